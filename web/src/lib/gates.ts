// The gates page's rules: pure, tested beside them.
import type { Schemas } from "../api/client";

type PolicyInput = Schemas["PolicyInput"];

/** The editable part of a policy (its rules and who may override), as the text area shows it. */
export function policyText(policy: Schemas["Policy"] | null): string {
  const input: PolicyInput = { override_roles: policy?.override_roles ?? ["tenant_admin"], rules: policy?.rules ?? {} };
  return JSON.stringify(input, null, 2);
}

/** The text area's policy, or why it is no policy (the API's own 422 names a bad rule). */
export function parsePolicy(text: string): { policy: PolicyInput } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `not JSON: ${(error as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { error: "the policy is a JSON object with rules and override_roles" };
  const { rules, override_roles } = value as Record<string, unknown>;
  if (typeof rules !== "object" || rules === null || Array.isArray(rules)) return { error: "rules: an object is needed" };
  if (!Array.isArray(override_roles)) return { error: "override_roles: a list of roles is needed" };
  return { policy: value as PolicyInput };
}

/** Whether a stored evaluation may still be overridden (break-glass once, for a fail or
 * an unknown). */
export function overridable(evaluation: Schemas["Evaluation"]): boolean {
  return !evaluation.override && (evaluation.verdict === "fail" || evaluation.verdict === "unknown");
}
