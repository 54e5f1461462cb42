// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Schedule } from "../lib/reports";

// The API client keeps the fetch it was made with: two pages of schedules (the second
// after ?cursor=c2), the first one's last report (done), a 204 for a delete; every call
// noted as "METHOD path?query".
const calls = vi.hoisted(() => {
  const seen: string[] = [];
  const schedule = (id: string, over: object = {}) => ({
    id,
    kind: "dora",
    format: "pdf",
    scope: "workspace:w1",
    scope_workspaces: ["w1"],
    every: "weekly",
    day: 1,
    at: "08:00:00",
    time_zone: "Europe/Paris",
    notify: ["tenant_admin", "manager"],
    created_by: "alice@example.com",
    created_at: "2026-03-20T10:00:00Z",
    next_run_at: "2026-03-23T07:00:00Z",
    last_run_at: null,
    last_report_id: null,
    paused_at: null,
    ...over,
  });
  globalThis.fetch = async (input: RequestInfo | URL) => {
    const request = input as Request;
    const url = new URL(request.url);
    seen.push(`${request.method} ${url.pathname}${url.search}`);
    if (request.method === "DELETE") return new Response(null, { status: 204 });
    const json = (body: object) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
    if (url.pathname === "/v1/reports/r1")
      return json({ id: "r1", kind: "dora", format: "pdf", status: "done", file: "/v1/reports/r1/file", size_bytes: 2048 });
    const page =
      url.searchParams.get("cursor") === "c2"
        ? { items: [schedule("s2", { every: "monthly", day: 31, next_run_at: null, paused_at: "2026-12-01T09:15:00Z" })], next_cursor: null }
        : { items: [schedule("s1", { last_run_at: "2026-03-16T07:00:41Z", last_report_id: "r1" })], next_cursor: "c2" };
    return json(page);
  };
  return seen;
});

import { ReportSchedules } from "./ReportSchedules";

afterEach(() => {
  cleanup();
  calls.length = 0;
});

function row(id: Schedule["id"]): HTMLElement {
  return screen.getByTestId(`schedule-${id}`);
}

describe("the report schedules on the Reports page", () => {
  it("pages with More, shows a paused one's date, and lets a manager resume it or delete one after a confirmation", async () => {
    render(<ReportSchedules scope="workspace:w9" role="manager" tenant={null} />);
    await screen.findByText("weekly on Monday at 08:00 (Europe/Paris)");
    // The viewer's locale writes the dates (lib/reports.test.ts names locales): only the
    // day, year and hour are common to them all.
    expect(within(row("s1")).getByText(/23.*2026.*8:00.*\(Europe\/Paris\)/)).toBeTruthy();
    expect(within(row("s1")).queryByRole("button", { name: "Resume for this scope" })).toBeNull();

    fireEvent.click(screen.getByRole("button", { name: "More schedules" }));
    await screen.findByText(/^paused since .*2026.*10:15.*\(Europe\/Paris\)$/);
    expect(within(row("s2")).getByText("never")).toBeTruthy();
    expect(within(row("s2")).queryByRole("button", { name: "Open the last report" })).toBeNull();
    expect(screen.getByText("monthly on day 31 at 08:00 (Europe/Paris)")).toBeTruthy();
    expect(screen.getAllByRole("row")).toHaveLength(3); // the header, then both pages
    expect(screen.queryByRole("button", { name: "More schedules" })).toBeNull();

    fireEvent.click(within(row("s2")).getByRole("button", { name: "Resume for this scope" }));
    await vi.waitFor(() => expect(calls).toContain("PATCH /v1/report-schedules/s2?scope=workspace%3Aw9"));

    await screen.findByTestId("schedule-s1"); // read again from the first page
    fireEvent.click(within(row("s1")).getByRole("button", { name: "Delete" }));
    expect(calls.some((c) => c.startsWith("DELETE"))).toBe(false);
    fireEvent.click(within(row("s1")).getByRole("button", { name: "Yes, delete it" }));
    await vi.waitFor(() => expect(calls).toContain("DELETE /v1/report-schedules/s1"));
  });

  it("shows when one last ran and opens its report through the tenant a platform admin acts on", async () => {
    render(<ReportSchedules scope="workspace:w9" role="platform_admin" tenant="t-1" />);
    await screen.findByText(/16.*2026.*8:00.*\(Europe\/Paris\)/);
    expect(calls.some((c) => c.startsWith("GET /v1/reports/"))).toBe(false); // read when asked, not per row
    fireEvent.click(within(row("s1")).getByRole("button", { name: "Open the last report" }));
    const link = await within(row("s1")).findByRole("link", { name: "Download dora PDF (2048 bytes)" });
    expect(link.getAttribute("href")).toBe("/v1/tenants/t-1/reports/r1/file");
    expect(calls).toContain("GET /v1/reports/r1");
  });

  it("shows a member the list without the form or the changes", async () => {
    render(<ReportSchedules scope="workspace:w9" role="member" tenant={null} />);
    await screen.findByText("weekly on Monday at 08:00 (Europe/Paris)");
    expect(screen.queryByRole("form", { name: "Schedule a report" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
    expect(screen.getByText("Tenant admins and managers create and change schedules.")).toBeTruthy();
  });
});
