import { describe, expect, it } from "vitest";
import {
  cadenceText,
  dayChoices,
  downloadHref,
  inProgress,
  lastFourWeeks,
  lastRunText,
  mayPlan,
  newSchedule,
  nextRunText,
  rolesText,
  SCHEDULE_KINDS,
  tenantIds,
  withEvery,
  type Report,
} from "./reports";

function report(status: Report["status"], file: string | null = null): Report {
  return {
    id: "r1",
    kind: "dora",
    format: "csv",
    scope: "workspace:w1",
    from: "2026-11-08",
    to: "2026-12-05",
    time_zone: "UTC",
    status,
    progress: status === "done" ? 100 : 40,
    step: "rendering",
    attempts: 1,
    requested_by: "admin",
    created_at: "2026-12-06T10:00:00Z",
    finished_at: null,
    file,
    reason: null,
    sha256: null,
    size_bytes: null,
  } as Report;
}

describe("reports", () => {
  it("asks by default for the 28 days up to yesterday", () => {
    expect(lastFourWeeks(new Date("2026-12-06T18:00:00Z"))).toEqual({ from: "2026-11-08", to: "2026-12-05" });
    expect(lastFourWeeks(new Date("2026-03-01T00:30:00Z"))).toEqual({ from: "2026-02-01", to: "2026-02-28" });
  });

  it("keeps reading while a report is queued or running", () => {
    expect(inProgress([report("done"), report("running")])).toBe(true);
    expect(inProgress([report("queued")])).toBe(true);
    expect(inProgress([report("done"), report("failed")])).toBe(false);
    expect(inProgress([])).toBe(false);
  });

  it("downloads a done report only, through the tenant a platform admin acts on", () => {
    const done = report("done", "/v1/reports/r1/file");
    expect(downloadHref(done, null)).toBe("/v1/reports/r1/file");
    expect(downloadHref(done, "t-1")).toBe("/v1/tenants/t-1/reports/r1/file");
    expect(downloadHref(report("running"), null)).toBeNull();
  });
});

describe("tenantIds", () => {
  it("reads comma- or space-separated ids, blanks and repeats dropped", () => {
    expect(tenantIds(" a1, b2,,a1  c3 ")).toEqual(["a1", "b2", "c3"]);
    expect(tenantIds("")).toEqual([]);
  });
});

describe("schedules", () => {
  it("reads a cadence as the API stores it (at with seconds)", () => {
    expect(cadenceText({ every: "weekly", day: 1, at: "08:00:00", time_zone: "Europe/Paris" })).toBe(
      "weekly on Monday at 08:00 (Europe/Paris)",
    );
    expect(cadenceText({ every: "weekly", day: 7, at: "23:45:00", time_zone: "UTC" })).toBe("weekly on Sunday at 23:45 (UTC)");
    expect(cadenceText({ every: "monthly", day: 31, at: "06:30", time_zone: "UTC" })).toBe("monthly on day 31 at 06:30 (UTC)");
  });

  it("shows the next run in the viewer's locale and the schedule's zone, across the change to summer time", () => {
    const paris = { paused_at: null, time_zone: "Europe/Paris" };
    // 07:00Z in winter and 06:00Z from 29 March 2026 are both 08:00 in Paris.
    expect(nextRunText({ ...paris, next_run_at: "2026-03-23T07:00:00Z" }, "en-GB")).toBe("23 Mar 2026, 08:00 (Europe/Paris)");
    expect(nextRunText({ ...paris, next_run_at: "2026-03-30T06:00:00Z" }, "en-GB")).toBe("30 Mar 2026, 08:00 (Europe/Paris)");
    expect(nextRunText({ ...paris, next_run_at: "2026-03-30T06:00:00Z" }, "de-DE")).toBe("30.03.2026, 08:00 (Europe/Paris)");
    expect(nextRunText({ next_run_at: "2026-12-07T23:30:00Z", paused_at: null, time_zone: "Asia/Tokyo" }, "en-GB")).toBe(
      "8 Dec 2026, 08:30 (Asia/Tokyo)",
    );
  });

  it("says since when a purge paused it instead of a next run", () => {
    const paused = { next_run_at: null, paused_at: "2026-12-01T09:15:00Z", time_zone: "Asia/Tokyo" };
    expect(nextRunText(paused, "en-GB")).toBe("paused since 1 Dec 2026, 18:15 (Asia/Tokyo)");
    expect(nextRunText({ next_run_at: null, paused_at: null, time_zone: "UTC" })).toBe("—");
  });

  it("shows the last run like the next one, or never", () => {
    expect(lastRunText({ last_run_at: "2026-03-16T07:00:41Z", time_zone: "Europe/Paris" }, "en-GB")).toBe(
      "16 Mar 2026, 08:00 (Europe/Paris)",
    );
    expect(lastRunText({ last_run_at: null, time_zone: "Europe/Paris" })).toBe("never");
  });

  it("lets admins and managers plan, not members or partners", () => {
    expect(["tenant_admin", "manager", "platform_admin", "member", "partner"].map(mayPlan)).toEqual([true, true, true, false, false]);
  });

  it("offers weekdays for a weekly run and 1 to 31 for a monthly one", () => {
    const weekly = dayChoices("weekly");
    expect([weekly.length, weekly[0], weekly[6]]).toEqual([7, [1, "Monday"], [7, "Sunday"]]);
    const monthly = dayChoices("monthly");
    expect([monthly.length, monthly[30]]).toEqual([31, [31, "31"]]);
  });

  it("moves a monthly day past 7 to Monday when the cadence becomes weekly", () => {
    const monthly = { ...newSchedule("UTC"), every: "monthly" as const, day: 15 };
    expect(withEvery(monthly, "weekly").day).toBe(1);
    expect(withEvery({ ...monthly, day: 5 }, "weekly").day).toBe(5);
    expect(withEvery({ ...newSchedule("UTC"), day: 3 }, "monthly")).toMatchObject({ every: "monthly", day: 3 });
  });

  it("names the roles told and leaves the forecast and the roll-up out of what a schedule makes", () => {
    expect(rolesText(["tenant_admin", "manager"])).toBe("tenant admin, manager");
    expect(SCHEDULE_KINDS.map(([kind]) => kind)).toEqual(["dora", "compliance", "sprint", "developer-trends"]);
  });
});
