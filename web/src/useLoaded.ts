import { useCallback, useEffect, useState } from "react";
import { ProblemError, type Problem } from "./api/problem";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "failed"; problem: Problem }
  | { state: "done"; data: T };

/** The problem a failed call threw. */
export function asProblem(error: unknown): Problem {
  if (error instanceof ProblemError) return error.problem;
  return { title: "Unexpected error", status: 0, detail: String(error) };
}

/** Run ``load`` when ``key`` changes; ``reload`` runs it again (after a write). */
export function useLoaded<T>(load: () => Promise<T>, key: string): [Loaded<T>, () => void] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: "loading" });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setLoaded({ state: "loading" });
    load().then(
      (data) => current && setLoaded({ state: "done", data }),
      (error: unknown) => current && setLoaded({ state: "failed", problem: asProblem(error) }),
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return [loaded, reload];
}
