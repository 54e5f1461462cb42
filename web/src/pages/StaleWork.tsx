import { useState } from "react";
import { api } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Show } from "../components/States";
import { usePortal } from "../session";
import { asProblem, useLoaded } from "../useLoaded";

/** In-progress items older than their kind usually gets, each with why; dismissing one
 * hides it until it moves again. */
export function StaleWork() {
  const { scope } = usePortal();
  const [stale, reload] = useLoaded(
    async () => (scope ? unwrap(await api.GET("/v1/work-items/stale", { params: { query: { scope } } })) : null),
    `stale:${scope}`,
  );
  const [problem, setProblem] = useState<Problem | null>(null);
  const dismiss = async (key: string) => {
    if (!scope) return;
    setProblem(null);
    try {
      unwrap(
        await api.POST("/v1/work-items/{key}/stale-dismissal", { params: { path: { key }, query: { scope } } }),
      );
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <section aria-labelledby="stale-title">
      <h1 id="stale-title">Stale work</h1>
      {problem && <ProblemMessage problem={problem} />}
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources first.</Empty>
      ) : (
        <Show loaded={stale} what="stale work">
          {(reply) =>
            reply &&
            (reply.items.length === 0 ? (
              <Empty>
                Nothing stale: every item in progress is within what its kind usually takes
                {reply.dismissed ? ` (${reply.dismissed} dismissed)` : ""}.
              </Empty>
            ) : (
              <table>
                <caption>
                  In progress longer than their kind usually takes{reply.dismissed ? `; ${reply.dismissed} dismissed` : ""}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Item</th>
                    <th scope="col">Age</th>
                    <th scope="col">Why</th>
                    <th scope="col">Dismiss</th>
                  </tr>
                </thead>
                <tbody>
                  {reply.items.map((item) => (
                    <tr key={item.key}>
                      <td>
                        <strong>{item.key}</strong> {item.title} <span className="hint">({item.status})</span>
                      </td>
                      <td>{item.age_days.toFixed(1)} days</td>
                      <td>{item.explanation}</td>
                      <td>
                        <button type="button" onClick={() => dismiss(item.key)}>
                          Dismiss<span className="visually-hidden"> {item.key}</span>
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))
          }
        </Show>
      )}
    </section>
  );
}
