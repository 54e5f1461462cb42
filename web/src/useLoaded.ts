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

/** A page of a cursor-paged list, as every list route answers. */
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface Paged<T> {
  /** every item of the pages read so far, and the cursor of the next page (none: the last) */
  loaded: Loaded<{ all: T[]; next: string | null }>;
  /** read the next page below those shown (the "More" button) */
  more: () => void;
  /** read the list again from its first page (after a write) */
  restart: () => void;
}

/** A list read a page at a time through the API's cursor. Each answer names the cursor it
 * answers, so in the render between "More" and the next page's answer the last page shown
 * is drawn once, not twice. */
export function usePaged<T>(load: (cursor: string | null) => Promise<Page<T>>, key: string): Paged<T> {
  const [pages, setPages] = useState<{ cursor: string | null; earlier: T[] }>({ cursor: null, earlier: [] });
  const [page, reload] = useLoaded(async () => ({ cursor: pages.cursor, ...(await load(pages.cursor)) }), `${key}:${pages.cursor}`);
  const current = page.state === "done" && page.data.cursor === pages.cursor;
  const loaded: Paged<T>["loaded"] =
    page.state !== "done"
      ? page
      : {
          state: "done",
          data: {
            all: current ? [...pages.earlier, ...page.data.items] : pages.earlier,
            next: current ? (page.data.next_cursor ?? null) : null,
          },
        };
  const more = () => {
    if (loaded.state === "done" && loaded.data.next) setPages({ cursor: loaded.data.next, earlier: loaded.data.all });
  };
  const restart = () => {
    setPages({ cursor: null, earlier: [] });
    reload();
  };
  return { loaded, more, restart };
}
