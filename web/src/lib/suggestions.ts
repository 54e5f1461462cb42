// The team-health suggestions page's rules: pure, tested beside them.
import type { Schemas } from "../api/client";

export type Suggestion = Schemas["Suggestion"];
export type KindStats = Schemas["KindStats"];

const SEVERITY_ORDER: Record<string, number> = { high: 0, medium: 1, low: 2 };

/** The list as the API ranked it (expected acceptance × severity), ties by severity. */
export function ranked(items: Suggestion[]): Suggestion[] {
  return [...items].sort(
    (a, b) => b.rank - a.rank || (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9),
  );
}

/** The text with each pseudonym (P1, P2…) replaced by a readable name for the reader, the
 * model only ever saw the pseudonyms. Unknown developers keep their pseudonym. */
export function named(text: string, people: Suggestion["people"], names: Record<string, string>): string {
  return people.reduce(
    (out, person) =>
      out.replace(new RegExp(`\\b${person.alias}\\b`, "g"), names[person.developer_id] ?? person.alias),
    text,
  );
}

/** Who wrote it, said plainly: the model's text was checked against the findings. */
export function writtenBy(suggestion: Suggestion): string {
  return suggestion.written_by === "model" ? "Gemini, checked against the findings" : "Template from the findings";
}

/** A kind's acceptance so far, as a person reads it: "2 of 3 confirmed (67 %)", or what
 * the model expects before any verdict. */
export function acceptance(stats: KindStats): string {
  const decided = stats.confirmed + stats.rejected;
  if (decided === 0) return `no verdict yet (expected ${Math.round(stats.expected_acceptance * 100)} %)`;
  const share = Math.round(((stats.acceptance_rate ?? stats.confirmed / decided) as number) * 100);
  return `${stats.confirmed} of ${decided} confirmed (${share} %)`;
}

/** The evidence numbers of a finding, "name: value" each, in the API's order. */
export function evidence(finding: Record<string, unknown>): string[] {
  const numbers = (finding.evidence ?? {}) as Record<string, unknown>;
  return Object.entries(numbers).map(([name, value]) => `${name.replaceAll("_", " ")}: ${String(value)}`);
}
