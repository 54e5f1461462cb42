import { useEffect, useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { ReportDownload } from "../components/ReportDownload";
import { ReportSchedules } from "../components/ReportSchedules";
import { Empty, Show } from "../components/States";
import { inProgress, KINDS, lastFourWeeks, tenantIds } from "../lib/reports";
import { usePortal } from "../session";
import { asProblem, useLoaded } from "../useLoaded";

type Request = Schemas["ReportRequest"];
const POLL_MS = 1_000;

/** Ask for a report of the chosen scope (kind, period, format), follow its progress and
 * download it when done; a failed one can be tried again. Below, the tenant's schedules. */
export function Reports() {
  const { scope, session, tenant } = usePortal();
  const acting = session.role === "platform_admin" ? tenant : null;
  const [request, setRequest] = useState<Request>(() => ({
    kind: "dora",
    format: "csv",
    time_zone: "UTC",
    ...lastFourWeeks(new Date()),
  }));
  const [tenants, setTenants] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [reports, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/reports", { params: { query: { limit: 50 } } })).items,
    "reports",
  );
  const busy = reports.state === "done" && inProgress(reports.data);
  useEffect(() => {
    if (!busy) return;
    const timer = setTimeout(reload, POLL_MS);
    return () => clearTimeout(timer);
  }, [busy, reports, reload]);

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    if (!scope) return;
    setProblem(null);
    try {
      // A roll-up names tenants (each must have granted this one) and no scope.
      unwrap(
        request.kind === "rollup"
          ? await api.POST("/v1/reports", { body: { ...request, tenants: tenantIds(tenants) } })
          : await api.POST("/v1/reports", { params: { query: { scope } }, body: request }),
      );
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const retry = async (id: string) => {
    setProblem(null);
    try {
      unwrap(await api.POST("/v1/reports/{report_id}/retry", { params: { path: { report_id: id } } }));
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="reports-title">
      <h1 id="reports-title">Reports</h1>
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources first.</Empty>
      ) : (
        <form className="inline-form" onSubmit={ask} aria-label="Request a report">
          <label>
            Kind{" "}
            <select
              value={request.kind}
              onChange={(e) => setRequest({ ...request, kind: e.target.value as Request["kind"] })}
            >
              {KINDS.map(([kind, label]) => (
                <option key={kind} value={kind}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          {request.kind === "rollup" && (
            <label>
              Tenants{" "}
              <input
                required
                value={tenants}
                placeholder="tenant ids, comma-separated"
                onChange={(e) => setTenants(e.target.value)}
              />
            </label>
          )}
          <label>
            From <input type="date" required value={request.from} onChange={(e) => setRequest({ ...request, from: e.target.value })} />
          </label>
          <label>
            To <input type="date" required value={request.to} onChange={(e) => setRequest({ ...request, to: e.target.value })} />
          </label>
          <label>
            Format{" "}
            <select
              value={request.format}
              onChange={(e) => setRequest({ ...request, format: e.target.value as Request["format"] })}
            >
              <option value="csv">CSV</option>
              <option value="pdf">PDF</option>
            </select>
          </label>
          <button type="submit">Request report</button>
        </form>
      )}
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={reports} what="reports">
        {(items) =>
          items.length === 0 ? (
            <Empty>No report yet.</Empty>
          ) : (
            <table>
              <caption>The tenant's reports, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Scope and period</th>
                  <th scope="col">Progress</th>
                  <th scope="col">File</th>
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr key={r.id}>
                    <td>
                      {r.kind} ({r.format})
                    </td>
                    <td>
                      {r.scope}, {r.from} to {r.to}
                    </td>
                    <td>
                      <progress max={100} value={r.progress} aria-label={`${r.kind} report progress`} />{" "}
                      <span data-testid={`report-status-${r.id}`}>{r.status}</span>{" "}
                      {r.status === "failed" ? <span className="hint">{r.reason}</span> : r.step !== r.status && <span className="hint">{r.step}</span>}
                    </td>
                    <td>
                      {r.status === "failed" ? (
                        <button type="button" onClick={() => retry(r.id)}>
                          Try again
                        </button>
                      ) : (
                        <ReportDownload report={r} tenant={acting} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      <ReportSchedules scope={scope} role={session.role} tenant={acting} />
    </section>
  );
}
