import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { json, unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Show } from "../components/States";
import { figure, TREND_LABELS, trendText, trendWindow } from "../lib/metrics";
import { Link, navigate } from "../router";
import { asProblem, useLoaded } from "../useLoaded";

const WINDOWS = [4, 13, 52] as const;

function aliasName(alias: Schemas["AliasView"]): string {
  return alias.login ?? alias.email ?? alias.display_name ?? alias.account_id ?? alias.id;
}

/** The trends against the developer's own past; a 403 is the privacy rule speaking, not
 * a failure, and reads as such. */
function Trends({ developer }: { developer: string }) {
  const [weeks, setWeeks] = useState<number>(13);
  const [trends] = useLoaded(
    async () =>
      json(
        unwrap(
          await api.GET("/v1/developers/{developer_id}/trends", { params: { path: { developer_id: developer } } }),
        ),
      ),
    `trends:${developer}`,
  );
  if (trends.state === "failed" && trends.problem.status === 403)
    return (
      <div className="privacy" role="note" data-testid="trends-private">
        <strong>Private.</strong> {trends.problem.detail ?? "Per-developer trends are not shown to you."}
      </div>
    );
  return (
    <Show loaded={trends} what="the trends">
      {(reply) => {
        const window = trendWindow(reply, weeks);
        return (
          <>
            <div role="group" aria-label="Trend window" className="inline-form">
              {WINDOWS.map((w) => (
                <button
                  key={w}
                  type="button"
                  aria-pressed={w === weeks}
                  className={w === weeks ? "chosen" : undefined}
                  onClick={() => setWeeks(w)}
                >
                  {w} weeks
                </button>
              ))}
            </div>
            {window === null ? (
              <Empty>No {weeks}-week window in the reply.</Empty>
            ) : (
              <>
                <p>
                  Flow efficiency over the last {weeks} weeks:{" "}
                  <strong>{window.flow_efficiency === null ? "— (too little history)" : figure(window.flow_efficiency)}</strong>{" "}
                  <span className="hint">(50 = as usual for this developer; never a ranking)</span>
                </p>
                <table>
                  <caption>
                    The last {weeks} weeks against the 52 before; an arrow only when the change is significant
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Measure</th>
                      <th scope="col">Recent median</th>
                      <th scope="col">Usual median</th>
                      <th scope="col">Change</th>
                    </tr>
                  </thead>
                  <tbody>
                    {window.metrics.map((m) => (
                      <tr key={m.metric}>
                        <th scope="row">{TREND_LABELS[m.metric] ?? m.metric}</th>
                        <td>{figure(m.recent_median)}</td>
                        <td>{figure(m.baseline_median)}</td>
                        <td data-testid={`trend-${m.metric}`}>
                          {trendText(m)}
                          {m.test && <span className="hint"> (p = {m.test.p_value.toFixed(3)})</span>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </>
        );
      }}
    </Show>
  );
}

/** One developer: their aliases with the evidence that joined them, merge, split and
 * move an alias, and their trends under the privacy rules. */
export function DeveloperDetail({ id }: { id: string }) {
  const [detail, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/developers/{developer_id}", { params: { path: { developer_id: id } } })),
    `developer:${id}`,
  );
  const [others] = useLoaded(
    async () => unwrap(await api.GET("/v1/developers", { params: { query: { limit: 200 } } })).items,
    "developers:all",
  );
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const act = async (what: string, call: () => Promise<Schemas["DeveloperDetail"] | Schemas["SplitReply"]>) => {
    setProblem(null);
    setDone(null);
    try {
      const reply = await call();
      setChosen(new Set());
      setDone(what);
      if ("id" in reply && reply.id !== id) navigate(`/developers/${reply.id}`);
      else reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const candidates = (others.state === "done" ? others.data : []).filter((d) => d.id !== id);

  return (
    <section aria-labelledby="developer-title">
      <p>
        <Link to="/developers">← Developers</Link>
      </p>
      <Show loaded={detail} what="the developer">
        {(dev) => (
          <>
            <h1 id="developer-title">{dev.display_name ?? "Unnamed developer"}</h1>
            <p className="hint">
              {dev.is_bot ? "bot" : "person"}
              {dev.locked ? ", locked against automatic matching" : ""}
            </p>
            {problem && <ProblemMessage problem={problem} />}
            {done && (
              <p role="status" className="hint">
                {done}
              </p>
            )}
            <table>
              <caption>Accounts (aliases) and the evidence that joined them</caption>
              <thead>
                <tr>
                  <th scope="col">Split out</th>
                  <th scope="col">Account</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Evidence</th>
                  <th scope="col">Move to</th>
                </tr>
              </thead>
              <tbody>
                {dev.aliases.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Split out ${aliasName(a)}`}
                        checked={chosen.has(a.id)}
                        onChange={(e) => {
                          const next = new Set(chosen);
                          if (e.target.checked) next.add(a.id);
                          else next.delete(a.id);
                          setChosen(next);
                        }}
                      />
                    </td>
                    <td>{aliasName(a)}</td>
                    <td>{a.kind}</td>
                    <td>{a.evidence.map((e) => `${e.rule} (${e.score.toFixed(2)})`).join(", ") || "—"}</td>
                    <td>
                      <select
                        aria-label={`Move ${aliasName(a)} to`}
                        value=""
                        disabled={candidates.length === 0}
                        onChange={(e) =>
                          e.target.value &&
                          act(`${aliasName(a)} moved.`, async () =>
                            unwrap(
                              await api.POST("/v1/developers/aliases/{alias_id}/move", {
                                params: { path: { alias_id: a.id } },
                                body: { to_developer_id: e.target.value },
                              }),
                            ),
                          )
                        }
                      >
                        <option value="">—</option>
                        {candidates.map((c) => (
                          <option key={c.id} value={c.id}>
                            {c.display_name ?? c.id}
                          </option>
                        ))}
                      </select>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="inline-form">
              <button
                type="button"
                disabled={chosen.size === 0 || chosen.size === dev.aliases.length}
                onClick={() =>
                  act("Split into a new developer.", async () =>
                    unwrap(
                      await api.POST("/v1/developers/{developer_id}/split", {
                        params: { path: { developer_id: id } },
                        body: { alias_ids: [...chosen] },
                      }),
                    ),
                  )
                }
              >
                Split the chosen accounts out
              </button>
              <label>
                Merge into this one{" "}
                <select value={target} onChange={(e) => setTarget(e.target.value)}>
                  <option value="">—</option>
                  {candidates.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.display_name ?? c.id}
                    </option>
                  ))}
                </select>
              </label>
              <button
                type="button"
                disabled={!target}
                onClick={() =>
                  act("Merged.", async () =>
                    unwrap(
                      await api.POST("/v1/developers/merge", { body: { survivor_id: id, merged_ids: [target] } }),
                    ),
                  ).then(() => setTarget(""))
                }
              >
                Merge
              </button>
            </div>
            <h2>Trends</h2>
            <Trends developer={dev.id} />
          </>
        )}
      </Show>
    </section>
  );
}
