// How the metrics pages read the API's figures: pure functions, tested beside them.
import type { Schemas } from "../api/client";

/** Hours as a person reads them: days past two days, "—" when there is no figure. */
export function hours(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return value >= 48 ? `${(value / 24).toFixed(1)} days` : `${value.toFixed(1)} h`;
}

/** A fraction as a whole percentage, "—" when there is none. */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(0)} %`;
}

export const PHASES = ["coding", "pickup", "review", "deploy"] as const;
export type Phase = (typeof PHASES)[number];

export interface Segment {
  phase: Phase;
  medianHours: number | null;
  count: number;
  /** its part of the bar: the phase's median over the sum of the phases' medians */
  share: number;
}

/** The cycle time's breakdown as a bar: each phase's median and its part of the whole.
 * The medians of the phases need not add up to the cycle time's median (each is taken
 * over its own changes), so the bar is their sum, and says so. */
export function breakdown(change: Schemas["ChangeFlowView"]): Segment[] {
  const medians = PHASES.map((phase) => change[phase].median_hours ?? 0);
  const total = medians.reduce((a, b) => a + b, 0);
  return PHASES.map((phase, i) => ({
    phase,
    medianHours: change[phase].median_hours ?? null,
    count: change[phase].count,
    share: total > 0 ? medians[i] / total : 0,
  }));
}

/** Which metrics a trend table shows, in the words of the page. */
export const TREND_LABELS: Record<string, string> = {
  commits: "Commits",
  changes_opened: "Changes opened",
  changes_merged: "Changes merged",
  reviews_given: "Reviews given",
  cycle_time_p50_hours: "Cycle time (median, h)",
  review_latency_hours: "Review latency (h)",
  wip: "Work in progress",
};

/** A trend's arrow as text: only when the API found the change significant (it sends no
 * arrow otherwise), with whether that is the good direction. */
export function trendArrow(metric: Schemas["MetricTrendView"]): string | null {
  if (!metric.arrow) return null;
  const sign = metric.arrow === "up" ? "↑" : "↓";
  if (metric.better === null || metric.better === undefined) return sign;
  return `${sign} ${metric.better ? "better" : "worse"}`;
}

/** The trend window of 4, 13 or 52 weeks, if the reply has it. */
export function trendWindow(
  trends: Schemas["TrendsReply"],
  weeks: number,
): Schemas["WindowView"] | null {
  return trends.windows.find((w) => w.weeks === weeks) ?? null;
}

/** A number with at most one decimal, "—" when there is none. */
export function figure(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** A trend's cell: the arrow, else whether the test found nothing or was not run (fewer
 * than 3 window weeks or 8 baseline weeks with a value). */
export function trendText(metric: Schemas["MetricTrendView"]): string {
  return trendArrow(metric) ?? (metric.test ? "no significant change" : "not tested: too few weeks");
}
