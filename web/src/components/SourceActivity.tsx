import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { backfillShare } from "../lib/admin";
import { asProblem, useLoaded } from "../useLoaded";
import { ProblemMessage } from "./ProblemMessage";
import { Empty, Show } from "./States";

const DAY = 86_400_000;

function Backfill({ source }: { source: string }) {
  const [backfill] = useLoaded(async () => {
    const result = await api.GET("/v1/sources/{source_id}/backfill", { params: { path: { source_id: source } } });
    return result.response.status === 404 ? null : unwrap(result);
  }, `backfill:${source}`);
  return (
    <Show loaded={backfill} what="the backfill">
      {(b) =>
        b === null ? (
          <p className="hint">No backfill: history comes through the webhooks from now on.</p>
        ) : (
          <p>
            Backfill since {b.since.slice(0, 10)}: {b.status}{" "}
            <progress max={1} value={backfillShare(b.resources)} aria-label="Backfill progress" />{" "}
            {Object.entries(b.resources)
              .map(([name, r]) => `${name} ${r.items}${r.done ? " (done)" : ""}`)
              .join(", ")}
            {b.error && <span className="hint"> — {b.error}</span>}
          </p>
        )
      }
    </Show>
  );
}

/** One source's recent deliveries and what became of each, a replay of the last 30
 * days (after a mapping fix), and its backfill's progress. */
export function SourceActivity({ source }: { source: Schemas["SourceReply"] }) {
  const [deliveries, reload] = useLoaded(
    async () =>
      unwrap(
        await api.GET("/v1/sources/{source_id}/deliveries", {
          params: { path: { source_id: source.id }, query: { limit: 20 } },
        }),
      ),
    `deliveries:${source.id}`,
  );
  const [replayed, setReplayed] = useState<Schemas["ReplayReply"] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const replay = async () => {
    setProblem(null);
    const to = new Date();
    try {
      setReplayed(
        unwrap(
          await api.POST("/v1/sources/{source_id}/replay", {
            params: { path: { source_id: source.id } },
            body: { from: new Date(to.getTime() - 30 * DAY).toISOString(), to: to.toISOString(), after: null, limit: 1000 },
          }),
        ),
      );
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <section aria-labelledby={`activity-${source.id}`} className="panel">
      <h3 id={`activity-${source.id}`}>Deliveries of {source.name}</h3>
      <Backfill source={source.id} />
      <button type="button" onClick={replay}>
        Replay the last 30 days
      </button>
      {replayed && (
        <p role="status">
          Replayed {replayed.deliveries} deliveries: {replayed.revised} events revised, {replayed.unchanged} unchanged
          {replayed.complete ? "." : " (more remain: replay again)."}
        </p>
      )}
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={deliveries} what="deliveries">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No delivery yet.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Received</th>
                  <th scope="col">Event</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Events</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((d) => (
                  <tr key={d.id}>
                    <td>{new Date(d.received_at).toLocaleString()}</td>
                    <td>{d.event ?? "—"}</td>
                    <td>
                      {d.outcome}
                      {d.reason && <span className="hint"> ({d.reason})</span>}
                    </td>
                    <td>{d.event_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}
