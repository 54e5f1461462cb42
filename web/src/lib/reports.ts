// The reports page's rules: pure, tested beside them.
import { tenantPath, type Schemas } from "../api/client";

export type Report = Schemas["ReportView"];

/** The default period: the 28 days up to yesterday, as the API's dates (both included). */
export function lastFourWeeks(today: Date): { from: string; to: string } {
  const day = 86_400_000;
  const to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - day);
  const from = new Date(to.getTime() - 27 * day);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

/** Whether the list must be read again soon: a report still queued or running. */
export function inProgress(reports: Report[]): boolean {
  return reports.some((r) => r.status === "queued" || r.status === "running");
}

/** Where the browser downloads a finished report (a platform admin's tenant path). */
export function downloadHref(report: Report, tenant: string | null): string | null {
  return report.status === "done" && report.file ? tenantPath(report.file, tenant) : null;
}

/** The tenant ids a roll-up names, typed as a list: split on commas and spaces, blanks and
 * repeats dropped (the API refuses a repeated tenant). */
export function tenantIds(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter((id) => id !== ""))];
}

export type Schedule = Schemas["ScheduleView"];
export type ScheduleRequest = Schemas["ScheduleRequest"];
type Role = Schedule["notify"][number];

/** The report kinds as the forms name them, in the API's order. */
export const KINDS: [Report["kind"], string][] = [
  ["dora", "DORA keys"],
  ["compliance", "Compliance (merged without approval)"],
  ["sprint", "Sprints"],
  ["forecast", "Delivery forecast"],
  ["developer-trends", "Developer trends"],
  ["rollup", "Roll-up of several tenants"],
];

/** What a schedule may produce (the API refuses the others): a schedule reports on the period
 * before each run, so not a forecast (it looks ahead), and it keeps no tenants, so not a
 * roll-up. */
export const SCHEDULE_KINDS = KINDS.filter(([kind]) => kind !== "rollup" && kind !== "forecast");

/** Who may create, rescope or delete a schedule (the API's 403 for the others). */
export function mayPlan(role: string): boolean {
  return role === "tenant_admin" || role === "manager" || role === "platform_admin";
}

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/** The days a cadence runs on, as the form offers them: weekly 1 (Monday) to 7, monthly 1 to 31. */
export function dayChoices(every: Schedule["every"]): [number, string][] {
  return every === "weekly"
    ? WEEKDAYS.map((name, i) => [i + 1, name])
    : Array.from({ length: 31 }, (_, i) => [i + 1, String(i + 1)]);
}

/** "weekly on Monday at 08:00 (Europe/Paris)", "monthly on day 31 at 06:30 (UTC)". */
export function cadenceText(s: Pick<Schedule, "every" | "day" | "at" | "time_zone">): string {
  const day = s.every === "weekly" ? WEEKDAYS[s.day - 1] : `day ${s.day}`;
  return `${s.every} on ${day} at ${s.at.slice(0, 5)} (${s.time_zone})`;
}

/** A schedule's time in the viewer's locale but the schedule's own zone, so its runs read
 * against its cadence ("at 08:00 (Asia/Tokyo)"): "31 Dec 2026, 08:00 (Asia/Tokyo)" in en-GB.
 * ``locale`` is the viewer's unless a test names one. */
function inZone(at: string, timeZone: string, locale?: string): string {
  const local = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: "medium", timeStyle: "short" }).format(new Date(at));
  return `${local} (${timeZone})`;
}

/** When it runs next, or since when it does not: a purge left it no workspace. */
export function nextRunText(s: Pick<Schedule, "next_run_at" | "paused_at" | "time_zone">, locale?: string): string {
  if (s.paused_at) return `paused since ${inZone(s.paused_at, s.time_zone, locale)}`;
  return s.next_run_at ? inZone(s.next_run_at, s.time_zone, locale) : "—";
}

/** When it last ran, or "never" (a schedule made since its last due time). */
export function lastRunText(s: Pick<Schedule, "last_run_at" | "time_zone">, locale?: string): string {
  return s.last_run_at ? inZone(s.last_run_at, s.time_zone, locale) : "never";
}

/** "tenant admin, manager". */
export function rolesText(roles: Role[]): string {
  return roles.map((r) => r.replace("_", " ")).join(", ");
}

/** The form's first schedule: the DORA keys each Monday at 08:00 in the browser's zone, told
 * to the tenant's admins and managers (the API's default). */
export function newSchedule(timeZone: string): ScheduleRequest {
  return { kind: "dora", format: "pdf", every: "weekly", day: 1, at: "08:00", time_zone: timeZone, notify: ["tenant_admin", "manager"] };
}

/** The request with another cadence: a monthly day past Sunday becomes Monday. */
export function withEvery(request: ScheduleRequest, every: ScheduleRequest["every"]): ScheduleRequest {
  return { ...request, every, day: every === "weekly" && request.day > 7 ? 1 : request.day };
}
