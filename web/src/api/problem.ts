// RFC 9457 problems as the API sends them, and how a page turns a reply into data or one.

export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
}

/** A reply that was not a success: its problem+json, or one made from the status. */
export class ProblemError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }
}

function isProblem(value: unknown): value is Problem {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Problem).title === "string" &&
    typeof (value as Problem).status === "number"
  );
}

/** The problem an error reply carries (a proxy's HTML page or an empty body still
 * names its status). */
export function problemOf(error: unknown, response: Response | undefined): Problem {
  if (isProblem(error)) return error;
  const status = response?.status ?? 0;
  return {
    title: status ? `HTTP ${status}` : "Network error",
    status,
    detail: status ? response?.statusText || undefined : "the platform did not answer",
  };
}

/** The data of an openapi-fetch result, or a thrown ProblemError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data !== undefined && result.response.ok) return result.data;
  if (result.response.ok && result.response.status === 204) return undefined as T;
  throw new ProblemError(problemOf(result.error, result.response));
}

/** A route that also answers CSV is typed as JSON or text: the portal asks for JSON, and
 * a text reply is a problem, not data. */
export function json<T>(value: T | string): T {
  if (typeof value === "string")
    throw new ProblemError({ title: "Unexpected reply", status: 0, detail: "the API answered text, not JSON" });
  return value;
}
