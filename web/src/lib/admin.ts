// The admin page's rules: pure, tested beside them.
import type { Schemas } from "../api/client";

type Edits = Record<string, { hot_days?: number; cold_days?: number }>;

/** What a retention save sends: the classes whose days were changed, each in full (the
 * API takes both days), none that were typed back to what they were. */
export function retentionChanges(
  policies: Schemas["RetentionPolicy"][],
  edits: Edits,
): Schemas["RetentionChoice"][] {
  return policies.flatMap((p) => {
    const edit = edits[p.data_class];
    if (!edit) return [];
    const hot = edit.hot_days ?? p.hot_days;
    const cold = edit.cold_days ?? p.cold_days;
    return hot === p.hot_days && cold === p.cold_days ? [] : [{ data_class: p.data_class, hot_days: hot, cold_days: cold }];
  });
}

/** A backfill's progress bar: the share of its resources done (each tool resource, such
 * as issues or pull requests, is fetched to its end in turn). */
export function backfillShare(resources: Record<string, { done: boolean }>): number {
  const all = Object.values(resources);
  return all.length === 0 ? 0 : all.filter((r) => r.done).length / all.length;
}
