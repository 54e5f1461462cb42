import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { Empty, Show } from "../components/States";
import { usePortal } from "../session";
import { useLoaded } from "../useLoaded";
import { hours, percent } from "../lib/metrics";

type Band = "elite" | "high" | "medium" | "low" | null | undefined;

function Tile({ title, value, band, basis }: { title: string; value: string; band: Band; basis: string }) {
  return (
    <article className="tile" aria-label={title}>
      <h2>{title}</h2>
      <p className="value" data-testid={`dora-${title}`}>
        {value}
      </p>
      <p className={`band band-${band ?? "none"}`}>{band ? `${band} performer` : "no band: no data"}</p>
      <p className="basis">{basis}</p>
    </article>
  );
}

/** The four DORA keys as tiles, each with its band and the counts behind it. */
export function Tiles({ dora }: { dora: Schemas["DoraReply"] }) {
  const df = dora.deployment_frequency;
  return (
    <>
      <p className="hint">
        Definition <strong data-testid="dora-definition">{dora.definition_id}</strong> (version{" "}
        {dora.definition_version}), {dora.since.slice(0, 10)} to {dora.until.slice(0, 10)}.
      </p>
      <div className="tiles">
        <Tile
          title="Deployment frequency"
          value={`${df.median_deployments_per_week} / week`}
          band={df.band}
          basis={`${df.deployments} deployments on ${df.deployment_days} days over ${df.weeks} weeks (median)`}
        />
        <Tile
          title="Lead time for changes"
          value={hours(dora.lead_time.median_hours)}
          band={dora.lead_time.band}
          basis={`median of ${dora.lead_time.count} changes; P85 ${hours(dora.lead_time.p85_hours)}`}
        />
        <Tile
          title="Change failure rate"
          value={percent(dora.change_failure_rate.rate)}
          band={dora.change_failure_rate.band}
          basis={`${dora.change_failure_rate.numerator} of ${dora.change_failure_rate.denominator} deployments`}
        />
        <Tile
          title="Time to restore"
          value={hours(dora.time_to_restore.median_hours)}
          band={dora.time_to_restore.band}
          basis={`median of ${dora.time_to_restore.count} incidents; ${dora.time_to_restore.unresolved} unresolved`}
        />
      </div>
    </>
  );
}

/** The four DORA keys of the chosen scope, each with its band and what it is taken over. */
export function Overview() {
  const { scope } = usePortal();
  const [dora] = useLoaded(
    async () =>
      scope ? unwrap(await api.GET("/v1/metrics/dora", { params: { query: { scope } } })) : null,
    `dora:${scope}`,
  );
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources to see its DORA keys.</Empty>
      ) : (
        <Show loaded={dora} what="the DORA keys">
          {(reply) => reply && typeof reply !== "string" && <Tiles dora={reply} />}
        </Show>
      )}
    </section>
  );
}
