import type { ReactNode } from "react";
import type { Problem } from "../api/problem";
import { ProblemMessage } from "./ProblemMessage";
import type { Loaded } from "../useLoaded";

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** Loading, then the problem or the data (drawn by ``children``). */
export function Show<T>({
  loaded,
  what,
  children,
}: {
  loaded: Loaded<T>;
  what: string;
  children: (data: T) => ReactNode;
}) {
  if (loaded.state === "loading") return <Loading what={what} />;
  if (loaded.state === "failed") return <ProblemMessage problem={loaded.problem as Problem} />;
  return <>{children(loaded.data)}</>;
}

/** The button under a paged list that reads its next page; none after the last. */
export function More({ next, more, what }: { next: string | null; more: () => void; what: string }) {
  if (!next) return null;
  return (
    <button type="button" onClick={more}>
      More {what}
    </button>
  );
}
