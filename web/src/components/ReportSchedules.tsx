import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import {
  cadenceText,
  dayChoices,
  lastRunText,
  mayPlan,
  newSchedule,
  nextRunText,
  rolesText,
  SCHEDULE_KINDS,
  withEvery,
  type Report,
  type ScheduleRequest,
} from "../lib/reports";
import { asProblem, usePaged } from "../useLoaded";
import { ProblemMessage } from "./ProblemMessage";
import { ReportDownload } from "./ReportDownload";
import { Empty, More, Show } from "./States";

const PAGE = 50;
const NOTIFIED = ["tenant_admin", "manager", "member"] as const;
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
/** Every zone the browser knows, listed once (not on every keystroke in the form). */
const ZONES = Intl.supportedValuesOf("timeZone");

/** The tenant's report schedules, a page at a time: what each makes, when it runs next (or
 * since when a purge paused it), when it last ran (opening the report it made) and whom it
 * tells. Admins and managers create one over the page's scope, give a paused one that
 * scope again, and delete one; members only read (the API refuses them the rest).
 * ``tenant``: the one a platform admin acts on (the last report's download goes there). */
export function ReportSchedules({ scope, role, tenant }: { scope: string | null; role: string; tenant: string | null }) {
  const planner = mayPlan(role);
  const { loaded, more, restart } = usePaged(
    async (cursor) => unwrap(await api.GET("/v1/report-schedules", { params: { query: { limit: PAGE, cursor } } })),
    "schedules",
  );
  const [request, setRequest] = useState<ScheduleRequest>(() => newSchedule(BROWSER_ZONE));
  const [deleting, setDeleting] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  /** Run a write, then read the list again from its first page. */
  const write = async (call: () => Promise<unknown>) => {
    setProblem(null);
    try {
      await call();
      setDeleting(null);
      restart();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const create = (event: FormEvent) => {
    event.preventDefault();
    if (scope)
      void write(async () => unwrap(await api.POST("/v1/report-schedules", { params: { query: { scope } }, body: request })));
  };
  const resume = (id: string) => {
    if (scope)
      void write(async () =>
        unwrap(await api.PATCH("/v1/report-schedules/{schedule_id}", { params: { path: { schedule_id: id }, query: { scope } } })),
      );
  };
  const remove = (id: string) =>
    write(async () => unwrap(await api.DELETE("/v1/report-schedules/{schedule_id}", { params: { path: { schedule_id: id } } })));
  const notify = request.notify ?? [];
  const toggle = (told: (typeof NOTIFIED)[number], on: boolean) =>
    setRequest({ ...request, notify: on ? [...notify, told] : notify.filter((r) => r !== told) });

  return (
    <section aria-labelledby="schedules-title">
      <h2 id="schedules-title">Schedules</h2>
      {!planner ? (
        <p className="hint">Tenant admins and managers create and change schedules.</p>
      ) : scope === null ? null : (
        <form className="inline-form" onSubmit={create} aria-label="Schedule a report">
          <label>
            Report{" "}
            <select value={request.kind} onChange={(e) => setRequest({ ...request, kind: e.target.value as ScheduleRequest["kind"] })}>
              {SCHEDULE_KINDS.map(([kind, label]) => (
                <option key={kind} value={kind}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            As{" "}
            <select
              value={request.format}
              onChange={(e) => setRequest({ ...request, format: e.target.value as ScheduleRequest["format"] })}
            >
              <option value="pdf">PDF</option>
              <option value="csv">CSV</option>
            </select>
          </label>
          <label>
            Every{" "}
            <select
              value={request.every}
              onChange={(e) => setRequest(withEvery(request, e.target.value as ScheduleRequest["every"]))}
            >
              <option value="weekly">week</option>
              <option value="monthly">month</option>
            </select>
          </label>
          <label>
            On{" "}
            <select value={request.day} onChange={(e) => setRequest({ ...request, day: Number(e.target.value) })}>
              {dayChoices(request.every).map(([day, label]) => (
                <option key={day} value={day}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label>
            At <input type="time" required value={request.at} onChange={(e) => setRequest({ ...request, at: e.target.value })} />
          </label>
          <label>
            Time zone{" "}
            <input
              required
              value={request.time_zone}
              list="time-zones"
              onChange={(e) => setRequest({ ...request, time_zone: e.target.value })}
            />
          </label>
          <datalist id="time-zones">
            {ZONES.map((zone) => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
          <fieldset>
            <legend>Tell</legend>
            {NOTIFIED.map((r) => (
              <label key={r}>
                <input type="checkbox" checked={notify.includes(r)} onChange={(e) => toggle(r, e.target.checked)} />{" "}
                {rolesText([r])}
              </label>
            ))}
          </fieldset>
          <button type="submit" disabled={notify.length === 0}>
            Create schedule
          </button>
        </form>
      )}
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={loaded} what="schedules">
        {({ all, next }) => {
          if (all.length === 0) return <Empty>No schedule yet.</Empty>;
          return (
            <>
              <table>
                <caption>The tenant's report schedules, oldest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Report</th>
                    <th scope="col">Runs</th>
                    <th scope="col">Next run</th>
                    <th scope="col">Last run</th>
                    <th scope="col">Tells</th>
                    <th scope="col">Scope</th>
                    {planner && <th scope="col">Change</th>}
                  </tr>
                </thead>
                <tbody>
                  {all.map((s) => (
                    <tr key={s.id} data-testid={`schedule-${s.id}`}>
                      <td>
                        {s.kind} ({s.format})
                      </td>
                      <td>{cadenceText(s)}</td>
                      <td>{nextRunText(s)}</td>
                      <td>
                        {lastRunText(s)}
                        {s.last_report_id && (
                          <>
                            {" "}
                            <LastReport id={s.last_report_id} tenant={tenant} />
                          </>
                        )}
                      </td>
                      <td>{rolesText(s.notify)}</td>
                      <td>{s.scope}</td>
                      {planner && (
                        <td>
                          {s.paused_at && (
                            <button type="button" disabled={scope === null} onClick={() => resume(s.id)}>
                              Resume for this scope
                            </button>
                          )}{" "}
                          {deleting === s.id ? (
                            <span role="group" aria-label="Confirm the deletion">
                              <button type="button" onClick={() => remove(s.id)}>
                                Yes, delete it
                              </button>{" "}
                              <button type="button" onClick={() => setDeleting(null)}>
                                Keep it
                              </button>
                            </span>
                          ) : (
                            <button type="button" onClick={() => setDeleting(s.id)}>
                              Delete
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  ))}
                </tbody>
              </table>
              <More next={next} more={more} what="schedules" />
            </>
          );
        }}
      </Show>
    </section>
  );
}

/** The report a schedule's last run made, read when asked (not once per row of the list):
 * its download link once done, else how far it got; a problem such as its file's expiry. */
function LastReport({ id, tenant }: { id: string; tenant: string | null }) {
  const [report, setReport] = useState<Report | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const open = async () => {
    setProblem(null);
    try {
      setReport(unwrap(await api.GET("/v1/reports/{report_id}", { params: { path: { report_id: id } } })));
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  if (problem) return <ProblemMessage problem={problem} />;
  if (report === null)
    return (
      <button type="button" onClick={() => void open()}>
        Open the last report
      </button>
    );
  return report.status === "done" ? <ReportDownload report={report} tenant={tenant} /> : <span>(its report is {report.status})</span>;
}
