import { describe, expect, it } from "vitest";
import { downloadHref, inProgress, lastFourWeeks, tenantIds, type Report } from "./reports";

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
