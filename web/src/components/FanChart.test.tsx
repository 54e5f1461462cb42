// @vitest-environment jsdom
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { FanChart, confidences, xValue } from "./FanChart";

afterEach(cleanup);

// The API's own example of GET /v1/forecasts/when (schema WhenReply).
const WHEN = {
  curve: [
    ["2027-01-18", 0.5],
    ["2027-02-01", 0.85],
  ] as [string, number][],
  percentiles: { "50": "2027-01-18", "85": "2027-02-01", "95": "2027-02-08" },
};
// And of GET /v1/forecasts/how-many (HowManyReply): fewer items are more likely.
const HOW_MANY = {
  curve: [
    [30, 0.95],
    [34, 0.85],
    [41, 0.5],
  ] as [number, number][],
  percentiles: { "50": 41, "85": 34, "95": 30 },
};

describe("FanChart", () => {
  it("lists the API's percentiles as text, lowest confidence first", () => {
    render(<FanChart title="When 30 items are done" unit="date" {...WHEN} />);
    const table = screen.getByRole("table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.textContent)).toEqual([
      "50 %2027-01-18",
      "85 %2027-02-01",
      "95 %2027-02-08",
    ]);
    expect(screen.getByTestId("percentile-95").textContent).toBe("2027-02-08");
  });

  it("describes the chart for screen readers with the same numbers", () => {
    render(<FanChart title="How many by 2027-01-31" unit="items" {...HOW_MANY} />);
    const chart = screen.getByRole("img", { name: /How many by 2027-01-31/ });
    expect(chart.querySelector("desc")?.textContent).toBe(
      "50 % confidence: 41 items; 85 % confidence: 34 items; 95 % confidence: 30 items",
    );
  });

  it("draws one band per span between percentiles, in the order of the x axis", () => {
    const { container } = render(<FanChart title="When" unit="date" {...WHEN} />);
    const bands = [...container.querySelectorAll("rect.band")];
    expect(bands).toHaveLength(2);
    // 2027-01-18 .. 2027-02-08 spans 21 days over 576 px: P50→P85 is 14 days, P85→P95 7.
    const widths = bands.map((band) => Number(band.getAttribute("width")));
    expect(widths[0]).toBeCloseTo((14 / 21) * 576, 1);
    expect(widths[1]).toBeCloseTo((7 / 21) * 576, 1);
    expect(Number(bands[0].getAttribute("x"))).toBeCloseTo(48, 5);
  });

  it("puts each percentile's mark where its value lies", () => {
    const { container } = render(<FanChart title="How many" unit="items" {...HOW_MANY} />);
    const marks = [...container.querySelectorAll("g.mark line")].map((l) =>
      Number(l.getAttribute("x1")),
    );
    // counts 30..41 over x 48..624: 41 → 624, 34 → 48 + 4/11 * 576, 30 → 48
    expect(marks[0]).toBeCloseTo(624, 5);
    expect(marks[1]).toBeCloseTo(48 + (4 / 11) * 576, 5);
    expect(marks[2]).toBeCloseTo(48, 5);
  });

  it("says a percentile the API puts beyond the horizon is beyond it, and draws the rest", () => {
    const { container } = render(
      <FanChart
        title="When 500 items are done"
        unit="date"
        curve={[["2027-01-18", 0.5]]}
        percentiles={{ "50": "2027-01-18", "85": "2027-02-01", "95": null }}
      />,
    );
    expect(screen.getByTestId("percentile-95").textContent).toBe("beyond the horizon");
    expect(container.querySelectorAll("g.mark")).toHaveLength(2);
    expect(container.querySelectorAll("rect.band")).toHaveLength(1);
  });

  it("gives percentiles that coincide one mark, named by its first and last", () => {
    const { container } = render(
      <FanChart
        title="When 3 items are done"
        unit="date"
        curve={[["2026-12-20", 0], ["2026-12-27", 1]]}
        percentiles={{ "50": "2026-12-27", "70": "2026-12-27", "85": "2026-12-27", "95": "2026-12-27" }}
      />,
    );
    const labels = [...container.querySelectorAll("g.mark text")].map((t) => t.textContent);
    expect(labels).toEqual(["P50–95", "2026-12-27"]);
    // at the right end of the axis, so written leftwards from the mark
    const anchors = [...container.querySelectorAll("g.mark text")].map((t) =>
      t.getAttribute("text-anchor"),
    );
    expect(anchors).toEqual(["end", "end"]);
    expect(screen.getAllByRole("row")).toHaveLength(5); // every percentile still in the table
  });

  it("orders confidences numerically and reads dates as days", () => {
    expect(confidences({ "95": 1, "50": 2, "85": 3 })).toEqual(["50", "85", "95"]);
    expect(xValue("2027-02-08") - xValue("2027-01-18")).toBe(21);
    expect(xValue(34)).toBe(34);
  });
});
