import { useEffect, useState } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Show } from "../components/States";
import { overridable, parsePolicy, policyText } from "../lib/gates";
import { usePortal } from "../session";
import { asProblem, useLoaded } from "../useLoaded";

function Policy({ scope }: { scope: string }) {
  const [policy, reload] = useLoaded(async () => {
    const result = await api.GET("/v1/gate-policies", { params: { query: { scope } } });
    return result.response.status === 404 ? null : unwrap(result);
  }, `policy:${scope}`);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState<number | null>(null);
  useEffect(() => {
    if (policy.state === "done") setText(policyText(policy.data));
  }, [policy]);

  const save = async () => {
    setProblem(null);
    setSaved(null);
    const parsed = parsePolicy(text);
    if ("error" in parsed) {
      setProblem({ title: "Not a policy", status: 0, detail: parsed.error });
      return;
    }
    try {
      const stored = unwrap(await api.PUT("/v1/gate-policies", { params: { query: { scope } }, body: parsed.policy }));
      setSaved(stored.version);
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="policy-title" className="panel">
      <h2 id="policy-title">Policy</h2>
      <Show loaded={policy} what="the gate policy">
        {(current) => (
          <>
            <p className="hint">
              {current
                ? `Version ${current.version}${current.created_by ? `, set by ${current.created_by}` : ""}. Each save is a new, audited version.`
                : "No policy yet: every gate passes. Each save is a new, audited version."}
            </p>
            <label htmlFor="policy-json">Rules and who may override (JSON)</label>
            <textarea
              id="policy-json"
              className="policy"
              rows={14}
              spellCheck={false}
              value={text}
              onChange={(e) => setText(e.target.value)}
            />
            <div className="inline-form">
              <button type="button" onClick={save}>
                Save policy
              </button>
              <span role="status">{saved !== null ? `Saved as version ${saved}.` : ""}</span>
            </div>
          </>
        )}
      </Show>
      {problem && <ProblemMessage problem={problem} />}
    </section>
  );
}

function Evaluations({ scope }: { scope: string }) {
  const [page, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/gates/evaluations", { params: { query: { scope, limit: 50 } } })),
    `evaluations:${scope}`,
  );
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const override = async (evaluation: Schemas["Evaluation"]) => {
    setProblem(null);
    try {
      unwrap(
        await api.POST("/v1/gates/evaluations/{evaluation_id}/override", {
          params: { path: { evaluation_id: evaluation.id }, query: { scope } },
          body: { reason: reasons[evaluation.id] ?? "" },
        }),
      );
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <section aria-labelledby="evaluations-title" className="panel">
      <h2 id="evaluations-title">Evaluations</h2>
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={page} what="evaluations">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No gate evaluated yet: CI asks with POST /v1/gates/evaluate or `sextant gate check`.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Repository and SHA</th>
                  <th scope="col">Environment</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Override</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((e) => (
                  <tr key={e.id}>
                    <td>{new Date(e.evaluated_at).toLocaleString()}</td>
                    <td>
                      {e.repository} <code>{e.sha.slice(0, 10)}</code>
                    </td>
                    <td>{e.environment}</td>
                    <td>
                      <strong>{e.verdict}</strong>
                      <span className="hint">
                        {" "}
                        {e.rules
                          .filter((r) => r.outcome !== "pass")
                          .map((r) => `${r.rule}: ${r.reason}`)
                          .join("; ")}
                      </span>
                    </td>
                    <td>
                      {e.override ? (
                        `by ${e.override.by}: ${e.override.reason}`
                      ) : overridable(e) ? (
                        <form
                          className="inline-form"
                          onSubmit={(event) => {
                            event.preventDefault();
                            override(e);
                          }}
                        >
                          <input
                            required
                            aria-label={`Why override ${e.sha.slice(0, 10)}`}
                            value={reasons[e.id] ?? ""}
                            onChange={(event) => setReasons({ ...reasons, [e.id]: event.target.value })}
                          />
                          <button type="submit">Override</button>
                        </form>
                      ) : (
                        "—"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}

/** CI/CD quality gates of the chosen scope: the policy to read and edit, and the stored
 * evaluations with the break-glass override. */
export function Gates() {
  const { scope } = usePortal();
  return (
    <section aria-labelledby="gates-title">
      <h1 id="gates-title">Gates</h1>
      {scope === null ? (
        <Empty>Choose or create a workspace under Workspaces &amp; sources first.</Empty>
      ) : (
        <>
          <Policy scope={scope} />
          <Evaluations scope={scope} />
        </>
      )}
    </section>
  );
}
