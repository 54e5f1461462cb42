import type { Problem } from "../api/problem";

/** An API error as the user reads it: the problem's title, and its detail, which names
 * the field or the cause. */
export function ProblemMessage({ problem }: { problem: Problem }) {
  return (
    <div className="problem" role="alert">
      <strong>{problem.title}</strong>
      {problem.status > 0 && <span className="status"> ({problem.status})</span>}
      {problem.detail && <p>{problem.detail}</p>}
    </div>
  );
}
