// @vitest-environment jsdom
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { CycleTime } from "../pages/Metrics";
import { breakdown, figure, hours, percent, trendArrow, trendText, trendWindow } from "./metrics";

afterEach(cleanup);

const d = (median_hours: number | null, count: number, p85_hours: number | null = null) => ({
  median_hours,
  p85_hours,
  count,
});
// A period's merged changes as GET /v1/metrics/flow sends them (ChangeFlowView).
const CHANGE = {
  coding: d(10, 8, 30),
  pickup: d(2, 8),
  review: d(4, 7),
  deploy: d(4, 5),
  cycle_time: d(26, 8, 60),
  merged: 8,
  deployed: 5,
};

function trend(arrow: "up" | "down" | null, better: boolean | null) {
  return {
    metric: "changes_merged",
    arrow,
    better,
    baseline_median: 3,
    baseline_weeks: 52,
    recent_median: 5,
    recent_weeks: 4,
    test: { u: 180, expected_u: 104, p_value: 0.012 },
  };
}

describe("the metrics pages' figures", () => {
  it("splits the cycle-time bar by the phases' medians", () => {
    // 10 + 2 + 4 + 4 = 20 hours: coding half the bar, pickup a tenth, review and deploy a fifth.
    expect(breakdown(CHANGE).map((s) => [s.phase, s.share, s.count])).toEqual([
      ["coding", 0.5, 8],
      ["pickup", 0.1, 8],
      ["review", 0.2, 7],
      ["deploy", 0.2, 5],
    ]);
  });

  it("gives a phase without changes no part of the bar, and an empty period none at all", () => {
    const noDeploy = breakdown({ ...CHANGE, deploy: d(null, 0) });
    expect(noDeploy[3]).toEqual({ phase: "deploy", medianHours: null, count: 0, share: 0 });
    expect(noDeploy[0].share).toBeCloseTo(10 / 16);
    const empty = { ...CHANGE, coding: d(null, 0), pickup: d(null, 0), review: d(null, 0), deploy: d(null, 0) };
    expect(breakdown(empty).map((s) => s.share)).toEqual([0, 0, 0, 0]);
  });

  it("shows an arrow only when the API sent one, and says which way is better", () => {
    expect(trendArrow(trend(null, null))).toBeNull();
    expect(trendArrow(trend("up", true))).toBe("↑ better");
    expect(trendArrow(trend("down", false))).toBe("↓ worse");
    expect(trendArrow(trend("down", null))).toBe("↓");
  });

  it("tells a change that is not significant from a test that was not run", () => {
    expect(trendText(trend("up", true))).toBe("↑ better");
    expect(trendText(trend(null, null))).toBe("no significant change");
    expect(trendText({ ...trend(null, null), test: null })).toBe("not tested: too few weeks");
  });

  it("finds the window of 4, 13 or 52 weeks", () => {
    const reply = {
      change_test: "mann-whitney",
      developer_id: "d",
      flow_efficiency: "",
      until: "2026-11-30",
      weeks: [],
      windows: [
        { weeks: 4, flow_efficiency: 61.5, flow_components: {}, metrics: [] },
        { weeks: 13, flow_efficiency: null, flow_components: {}, metrics: [] },
      ],
    };
    expect(trendWindow(reply, 4)?.flow_efficiency).toBe(61.5);
    expect(trendWindow(reply, 13)?.flow_efficiency).toBeNull();
    expect(trendWindow(reply, 52)).toBeNull();
  });

  it("writes hours, days, rates and figures as a person reads them", () => {
    expect(hours(26)).toBe("26.0 h");
    expect(hours(60)).toBe("2.5 days");
    expect(hours(null)).toBe("—");
    expect(percent(0.125)).toBe("13 %");
    expect(percent(undefined)).toBe("—");
    expect(figure(4)).toBe("4");
    expect(figure(2.25)).toBe("2.3");
  });

  it("draws the cycle time with the counts behind each phase", () => {
    render(<CycleTime change={CHANGE} />);
    expect(screen.getByTestId("flow-cycle-median").textContent).toBe("26.0 h");
    const rows = within(screen.getByRole("table")).getAllByRole("row").slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      "coding10.0 h30.0 h8",
      "pickup2.0 h—8",
      "review4.0 h—7",
      "deploy4.0 h—5",
    ]);
    const bar = screen.getByRole("img", { name: "Cycle time by phase (medians)" });
    expect([...bar.children].map((c) => (c as HTMLElement).style.flexGrow)).toEqual(["0.5", "0.1", "0.2", "0.2"]);
  });
});
