import { describe, expect, it } from "vitest";
import { overridable, parsePolicy, policyText } from "./gates";

const EVALUATION = {
  id: "e1",
  scope: "workspace:w1",
  workspace_id: "w1",
  repository: "acme/web",
  sha: "a".repeat(40),
  environment: "production",
  verdict: "fail" as "fail" | "pass" | "warn" | "unknown",
  rules: [],
  policy_version: 2,
  requested_by: "ci",
  evaluated_at: "2026-12-06T10:00:00Z",
  change_request_id: null,
  override: null,
};

describe("gates", () => {
  it("edits a policy's rules and override roles as JSON, and reads them back", () => {
    const text = policyText({
      scope: "workspace:w1",
      version: 3,
      created_at: null,
      created_by: null,
      override_roles: ["tenant_admin", "manager"],
      rules: { reviews: { enforcement: "block", minimum: 2 } },
    });
    expect(JSON.parse(text)).toEqual({
      override_roles: ["tenant_admin", "manager"],
      rules: { reviews: { enforcement: "block", minimum: 2 } },
    });
    expect(parsePolicy(text)).toEqual({ policy: JSON.parse(text) });
    expect(JSON.parse(policyText(null))).toEqual({ override_roles: ["tenant_admin"], rules: {} });
  });

  it("names what is wrong before sending", () => {
    expect(parsePolicy("{")).toHaveProperty("error");
    expect((parsePolicy("[]") as { error: string }).error).toMatch(/JSON object/);
    expect(parsePolicy('{"override_roles": []}')).toEqual({ error: "rules: an object is needed" });
    expect(parsePolicy('{"rules": {}}')).toEqual({ error: "override_roles: a list of roles is needed" });
  });

  it("offers the break-glass once, for a fail or an unknown", () => {
    expect(overridable(EVALUATION)).toBe(true);
    expect(overridable({ ...EVALUATION, verdict: "unknown" })).toBe(true);
    expect(overridable({ ...EVALUATION, verdict: "pass" })).toBe(false);
    expect(overridable({ ...EVALUATION, override: { at: "2026-12-06T11:00:00Z", by: "admin", reason: "hotfix" } })).toBe(false);
  });
});
