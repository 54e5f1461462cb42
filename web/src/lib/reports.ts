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
