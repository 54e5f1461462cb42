import { describe, expect, it } from "vitest";
import { backfillShare, retentionChanges } from "./admin";

const POLICIES = [
  { data_class: "raw_deliveries", hot_days: 30, cold_days: 365, is_default: true, updated_at: null, updated_by: null },
  { data_class: "audit_log", hot_days: 400, cold_days: 2555, is_default: true, updated_at: null, updated_by: null },
] as const;

describe("retention edits", () => {
  it("sends only the classes changed, each with both its days", () => {
    expect(retentionChanges([...POLICIES], { raw_deliveries: { hot_days: 14 } })).toEqual([
      { data_class: "raw_deliveries", hot_days: 14, cold_days: 365 },
    ]);
  });

  it("sends nothing for an edit typed back to what it was", () => {
    expect(retentionChanges([...POLICIES], { audit_log: { hot_days: 400, cold_days: 2555 } })).toEqual([]);
    expect(retentionChanges([...POLICIES], {})).toEqual([]);
  });
});

describe("a backfill's progress", () => {
  it("is the share of its resources fetched to their end", () => {
    const page = { events: 10, items: 10, pages: 1 };
    expect(
      backfillShare({ issues: { done: true, ...page }, pulls: { done: false, ...page }, builds: { done: true, ...page }, deploys: { done: false, ...page } }),
    ).toBe(0.5);
    expect(backfillShare({})).toBe(0);
  });
});
