import { useEffect, useState } from "react";
import { api } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Show } from "../components/States";
import { acceptance, evidence, named, ranked, writtenBy, type Suggestion } from "../lib/suggestions";
import { Link } from "../router";
import { usePortal } from "../session";
import { asProblem, useLoaded } from "../useLoaded";

type Verdict = "confirm" | "reject" | "snooze";

/** Who the pseudonyms of the listed suggestions are: each developer read once. */
function useNames(items: Suggestion[] | null): Record<string, string> {
  const [names, setNames] = useState<Record<string, string>>({});
  const ids = [...new Set((items ?? []).flatMap((s) => s.people.map((p) => p.developer_id)))].sort();
  const key = ids.join(",");
  useEffect(() => {
    let current = true;
    Promise.all(
      ids.map(async (developer_id) => {
        const { data } = await api.GET("/v1/developers/{developer_id}", { params: { path: { developer_id } } });
        return [developer_id, data?.display_name ?? developer_id] as const;
      }),
    ).then((pairs) => current && setNames(Object.fromEntries(pairs)));
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return names;
}

/** Team-health suggestions: what the detectors found, turned into actions (by Gemini,
 * checked against the findings, or by templates), to confirm, reject or snooze; the
 * verdicts change what comes next, and each kind's acceptance is shown. */
export function Suggestions() {
  const { scope } = usePortal();
  const [list, reload] = useLoaded(
    async () => (scope ? unwrap(await api.GET("/v1/suggestions", { params: { query: { scope } } })) : null),
    `suggestions:${scope}`,
  );
  const [stats, reloadStats] = useLoaded(
    async () => (scope ? unwrap(await api.GET("/v1/suggestions/stats", { params: { query: { scope } } })) : null),
    `suggestion-stats:${scope}`,
  );
  const [problem, setProblem] = useState<Problem | null>(null);
  const [running, setRunning] = useState<string | null>(null);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const items = list.state === "done" && list.data ? ranked(list.data.items) : null;
  const names = useNames(items);
  const workspaceOnly = scope !== null && !scope.startsWith("workspace:");

  const run = async () => {
    if (!scope) return;
    setProblem(null);
    try {
      let current = unwrap(await api.POST("/v1/suggestions/runs", { params: { query: { scope } }, body: {} }));
      setRunning(current.step);
      while (current.status === "queued" || current.status === "running") {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        current = unwrap(
          await api.GET("/v1/suggestions/runs/{run_id}", { params: { path: { run_id: current.id }, query: { scope } } }),
        );
        setRunning(current.step);
      }
      if (current.status === "failed") setProblem({ title: "The run failed", detail: current.error ?? "", status: 0 });
      reload();
      reloadStats();
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setRunning(null);
    }
  };

  const decide = async (suggestion: Suggestion, verdict: Verdict) => {
    if (!scope) return;
    setProblem(null);
    try {
      unwrap(
        await api.POST("/v1/suggestions/{suggestion_id}/feedback", {
          params: { path: { suggestion_id: suggestion.id }, query: { scope } },
          body: { verdict, reason: reasons[suggestion.id] || null, snooze_days: 14 },
        }),
      );
      reload();
      reloadStats();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="suggestions-title">
      <h1 id="suggestions-title">Team health</h1>
      {problem && <ProblemMessage problem={problem} />}
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources first.</Empty>
      ) : (
        <>
          <p>
            <button type="button" onClick={run} disabled={running !== null || workspaceOnly}>
              {running === null ? "Look for problems now" : `Running: ${running}…`}
            </button>{" "}
            {workspaceOnly && <span className="hint">A run covers one workspace: choose one.</span>}
          </p>
          <Show loaded={list} what="suggestions">
            {() =>
              items &&
              (items.length === 0 ? (
                <Empty>No open suggestion: nothing found, or every one has a verdict.</Empty>
              ) : (
                <ol className="suggestions">
                  {items.map((s) => (
                    <li key={s.id}>
                      <article aria-labelledby={`s-${s.id}`}>
                        <h2 id={`s-${s.id}`}>
                          <span className={`badge ${s.severity}`}>{s.severity}</span> {named(s.title, s.people, names)}
                        </h2>
                        <p>{named(s.action, s.people, names)}</p>
                        {s.rationale && <p className="hint">{named(s.rationale, s.people, names)}</p>}
                        <p className="hint">
                          {writtenBy(s)} · people:{" "}
                          {s.people.map((p, i) => (
                            <span key={p.developer_id}>
                              {i > 0 && ", "}
                              <Link to={`/developers/${p.developer_id}`}>{names[p.developer_id] ?? p.alias}</Link>
                            </span>
                          ))}
                        </p>
                        <details>
                          <summary>The findings it rests on ({s.findings.length})</summary>
                          <ul>
                            {s.findings.map((f) => (
                              <li key={String(f.id)}>
                                {String(f.kind).replaceAll("_", " ")}: {evidence(f).join("; ")}
                              </li>
                            ))}
                          </ul>
                        </details>
                        <label>
                          Why (optional){" "}
                          <input
                            value={reasons[s.id] ?? ""}
                            maxLength={2000}
                            onChange={(e) => setReasons({ ...reasons, [s.id]: e.target.value })}
                          />
                        </label>{" "}
                        <button type="button" onClick={() => decide(s, "confirm")}>
                          Confirm<span className="visually-hidden"> {s.title}</span>
                        </button>{" "}
                        <button type="button" onClick={() => decide(s, "reject")}>
                          Reject<span className="visually-hidden"> {s.title}</span>
                        </button>{" "}
                        <button type="button" onClick={() => decide(s, "snooze")}>
                          Snooze 14 days<span className="visually-hidden"> {s.title}</span>
                        </button>
                      </article>
                    </li>
                  ))}
                </ol>
              ))
            }
          </Show>
          <Show loaded={stats} what="acceptance">
            {(reply) =>
              reply &&
              reply.kinds.length > 0 && (
                <table>
                  <caption>What was confirmed, by kind (it ranks what comes next)</caption>
                  <thead>
                    <tr>
                      <th scope="col">Kind</th>
                      <th scope="col">Acceptance</th>
                      <th scope="col">Open</th>
                      <th scope="col">Snoozed</th>
                    </tr>
                  </thead>
                  <tbody>
                    {reply.kinds.map((k) => (
                      <tr key={k.kind}>
                        <td>{k.kind.replaceAll("_", " ")}</td>
                        <td>{acceptance(k)}</td>
                        <td>{k.open}</td>
                        <td>{k.snoozed}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )
            }
          </Show>
        </>
      )}
    </section>
  );
}
