import { describe, expect, it } from "vitest";
import { acceptance, evidence, named, ranked, writtenBy, type KindStats, type Suggestion } from "./suggestions";

function suggestion(id: string, rank: number, severity: string, written_by = "template"): Suggestion {
  return {
    id,
    rank,
    severity,
    written_by,
    kind: "knowledge_silo",
    title: "P1 wrote 90 % of billing",
    action: "Pair P2 with P1 in billing",
    rationale: "",
    people: [
      { alias: "P1", developer_id: "d-ada" },
      { alias: "P2", developer_id: "d-bob" },
    ],
  } as unknown as Suggestion;
}

describe("suggestions", () => {
  it("keeps the API's rank and breaks ties by severity", () => {
    const order = ranked([
      suggestion("a", 0.25, "low"),
      suggestion("b", 0.5, "medium"),
      suggestion("c", 0.25, "high"),
    ]).map((s) => s.id);
    expect(order).toEqual(["b", "c", "a"]);
  });

  it("names the pseudonyms for the reader, leaving unknown ones and look-alikes", () => {
    const s = suggestion("a", 1, "high");
    expect(named("Pair P2 with P1; P10 stays", s.people, { "d-ada": "Ada Lovelace" })).toBe(
      "Pair P2 with Ada Lovelace; P10 stays",
    );
  });

  it("says who wrote it", () => {
    expect(writtenBy(suggestion("a", 1, "high", "model"))).toBe("Gemini, checked against the findings");
    expect(writtenBy(suggestion("a", 1, "high"))).toBe("Template from the findings");
  });

  it("reads a kind's acceptance, before and after verdicts", () => {
    const fresh = { confirmed: 0, rejected: 0, expected_acceptance: 0.5, acceptance_rate: null } as unknown as KindStats;
    expect(acceptance(fresh)).toBe("no verdict yet (expected 50 %)");
    const some = { confirmed: 2, rejected: 1, expected_acceptance: 0.6, acceptance_rate: 2 / 3 } as unknown as KindStats;
    expect(acceptance(some)).toBe("2 of 3 confirmed (67 %)");
  });

  it("lists a finding's evidence numbers", () => {
    expect(evidence({ evidence: { author_share: 0.9, changes: 10 } })).toEqual(["author share: 0.9", "changes: 10"]);
    expect(evidence({})).toEqual([]);
  });
});
