import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { json, unwrap } from "../api/problem";
import { Empty, Show } from "../components/States";
import { breakdown, figure, hours, percent } from "../lib/metrics";
import { usePortal } from "../session";
import { useLoaded } from "../useLoaded";
import { Tiles } from "./Overview";

type DefinitionId = Schemas["DoraReply"]["definition_id"];

function Definition({ definition }: { definition: Schemas["DefinitionView"] }) {
  return (
    <dl className="definition">
      <dt>Deployment</dt>
      <dd>{definition.deployment}</dd>
      <dt>Lead time</dt>
      <dd>{definition.lead_time}</dd>
      <dt>Change failure rate</dt>
      <dd>{definition.change_failure_rate}</dd>
      <dt>Time to restore</dt>
      <dd>{definition.time_to_restore}</dd>
    </dl>
  );
}

/** The cycle time's phases as one bar, then as a table with the counts behind them. */
export function CycleTime({ change }: { change: Schemas["ChangeFlowView"] }) {
  const segments = breakdown(change);
  return (
    <>
      {segments.every((s) => s.share === 0) ? (
        <p className="hint">No merged change with its phases in this period.</p>
      ) : (
      <div className="breakdown" role="img" aria-label="Cycle time by phase (medians)">
        {segments
          .filter((s) => s.share > 0)
          .map((s) => (
            <span key={s.phase} className={`phase phase-${s.phase}`} style={{ flexGrow: s.share }}>
              {s.phase} {hours(s.medianHours)}
            </span>
          ))}
      </div>
      )}
      <table>
        <caption>
          Cycle time of {change.merged} merged changes ({change.deployed} deployed): median{" "}
          <strong data-testid="flow-cycle-median">{hours(change.cycle_time.median_hours)}</strong>, P85{" "}
          {hours(change.cycle_time.p85_hours)}
        </caption>
        <thead>
          <tr>
            <th scope="col">Phase</th>
            <th scope="col">Median</th>
            <th scope="col">P85</th>
            <th scope="col">Changes</th>
          </tr>
        </thead>
        <tbody>
          {segments.map((s) => (
            <tr key={s.phase}>
              <th scope="row">{s.phase}</th>
              <td>{hours(s.medianHours)}</td>
              <td>{hours(change[s.phase].p85_hours)}</td>
              <td>{s.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Flow({ flow }: { flow: Schemas["FlowReply"] }) {
  return (
    <section aria-labelledby="flow-title" className="panel">
      <h2 id="flow-title">Flow</h2>
      <CycleTime change={flow.total.change_requests} />
      <table>
        <caption>
          Work items: <strong data-testid="flow-throughput">{flow.total.work_items.throughput}</strong> done, median
          cycle time {hours(flow.total.work_items.cycle_time.median_hours)}, {flow.total.work_items.wip} in progress
        </caption>
        <thead>
          <tr>
            <th scope="col">{flow.granularity === "day" ? "Day" : "Week of"}</th>
            <th scope="col">Done</th>
            <th scope="col">In progress</th>
            <th scope="col">Changes merged</th>
          </tr>
        </thead>
        <tbody>
          {flow.periods.map((p) => (
            <tr key={p.start}>
              <th scope="row">{p.start.slice(0, 10)}</th>
              <td>{p.work_items.throughput}</td>
              <td>{p.work_items.wip}</td>
              <td>{p.change_requests.merged}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Review({ review }: { review: Schemas["ReviewReply"] }) {
  const t = review.total;
  return (
    <section aria-labelledby="review-title" className="panel">
      <h2 id="review-title">Review load</h2>
      <ul className="facts">
        <li>
          Time to first review: median {hours(t.time_to_first_review.median_hours)} over{" "}
          {t.time_to_first_review.count} changes
        </li>
        <li>
          Review rounds: median {figure(t.review_rounds.median)}; {t.review_rounds.unreviewed} merged without another's
          review
        </li>
        <li>
          Merged without approval: {percent(t.merged_without_approval.rate)} ({t.merged_without_approval.numerator} of{" "}
          {t.merged_without_approval.denominator})
        </li>
        <li>
          Busiest reviewer's share: {percent(t.reviewer_concentration.top_share)} of {t.reviewer_concentration.reviews}{" "}
          reviews by {t.reviewer_concentration.reviewers} reviewers
        </li>
      </ul>
      {review.reviewer_load.length === 0 ? (
        <Empty>No review in this period.</Empty>
      ) : (
        <table>
          <caption>Reviewer load</caption>
          <thead>
            <tr>
              <th scope="col">Reviewer</th>
              <th scope="col">Reviews</th>
              <th scope="col">Changes</th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            {review.reviewer_load.map((r) => (
              <tr key={r.reviewer}>
                <th scope="row">{r.reviewer}</th>
                <td>{r.reviews}</td>
                <td>{r.change_requests}</td>
                <td>{percent(r.share)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** DORA under a chosen definition, flow (cycle-time phases, throughput) and review load
 * of the chosen scope over the last 28 days. */
export function Metrics() {
  const { scope } = usePortal();
  const [chosen, setChosen] = useState<DefinitionId | null>(null);
  const [definitions] = useLoaded(async () => unwrap(await api.GET("/v1/metrics/definitions")), "definitions");
  // The DORA keys do not wait for the definitions: without a choice the API's default.
  const definition =
    chosen ?? (definitions.state === "done" ? (definitions.data.default as DefinitionId) : null);
  const [dora] = useLoaded(
    async () =>
      scope
        ? json(
            unwrap(
              await api.GET("/v1/metrics/dora", {
                params: { query: chosen ? { scope, definition: chosen } : { scope } },
              }),
            ),
          )
        : null,
    `dora:${scope}:${chosen}`,
  );
  const [flow] = useLoaded(
    async () => (scope ? json(unwrap(await api.GET("/v1/metrics/flow", { params: { query: { scope } } }))) : null),
    `flow:${scope}`,
  );
  const [review] = useLoaded(
    async () => (scope ? json(unwrap(await api.GET("/v1/metrics/review", { params: { query: { scope } } }))) : null),
    `review:${scope}`,
  );

  return (
    <section aria-labelledby="metrics-title">
      <h1 id="metrics-title">Metrics</h1>
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources to see its metrics.</Empty>
      ) : (
        <>
          <Show loaded={definitions} what="the definitions">
            {(list) => (
              <div className="panel">
                <label htmlFor="definition">Definition</label>{" "}
                <select
                    id="definition"
                    value={definition ?? list.default}
                    onChange={(e) => setChosen(e.target.value as DefinitionId)}
                  >
                    {list.definitions.map((d) => (
                      <option key={d.id} value={d.id}>
                        {d.title}
                      </option>
                    ))}
                  </select>
                {list.definitions
                  .filter((d) => d.id === definition)
                  .map((d) => (
                    <Definition key={d.id} definition={d} />
                  ))}
              </div>
            )}
          </Show>
          <Show loaded={dora} what="the DORA keys">
            {(reply) => reply && <Tiles dora={reply} />}
          </Show>
          <Show loaded={flow} what="flow">
            {(reply) => reply && <Flow flow={reply} />}
          </Show>
          <Show loaded={review} what="review load">
            {(reply) => reply && <Review review={reply} />}
          </Show>
        </>
      )}
    </section>
  );
}
