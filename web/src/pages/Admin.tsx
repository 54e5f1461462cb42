import { useState, type FormEvent, type ReactNode } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Show } from "../components/States";
import { retentionChanges } from "../lib/admin";
import { asProblem, useLoaded } from "../useLoaded";

type Role = Schemas["ApiKeyCreate"]["role"];

/** Run a write; its problem is shown in the section, else ``after`` runs. */
function useAction(): [Problem | null, (call: () => Promise<unknown>, after?: () => void) => Promise<void>] {
  const [problem, setProblem] = useState<Problem | null>(null);
  const run = async (call: () => Promise<unknown>, after?: () => void) => {
    setProblem(null);
    try {
      await call();
      after?.();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return [problem, run];
}

function Panel({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section aria-labelledby={id} className="panel">
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function AuditLog() {
  const [log] = useLoaded(async () => unwrap(await api.GET("/v1/audit-log", { params: { query: { limit: 20 } } })), "audit");
  const [check, setCheck] = useState<Schemas["AuditVerifyReply"] | null>(null);
  const [problem, run] = useAction();
  return (
    <Panel id="audit-title" title="Audit log">
      <button
        type="button"
        onClick={() => run(async () => setCheck(unwrap(await api.GET("/v1/audit-log/verify"))))}
      >
        Check the chain
      </button>
      {problem && <ProblemMessage problem={problem} />}
      {check && (
        <p role="status" data-testid="audit-chain" className={check.intact ? "hint" : "problem"}>
          {check.intact
            ? `The chain holds: ${check.rows} rows.`
            : `The chain breaks at row ${check.first_bad_seq}: ${check.reason ?? "a hash does not match"}.`}
        </p>
      )}
      <Show loaded={log} what="the audit log">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No configuration change recorded yet.</Empty>
          ) : (
            <table>
              <caption>The latest changes, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">On</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((r) => (
                  <tr key={r.seq}>
                    <td>{new Date(r.at).toLocaleString()}</td>
                    <td>{r.actor}</td>
                    <td>{r.action}</td>
                    <td>
                      {r.target_type} <code>{r.target_id.slice(0, 8)}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </Panel>
  );
}

function ApiKeys() {
  const [keys, reload] = useLoaded(async () => unwrap(await api.GET("/v1/api-keys")), "api-keys");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [created, setCreated] = useState<Schemas["CreatedApiKeyReply"] | null>(null);
  const [problem, run] = useAction();
  const create = (event: FormEvent) => {
    event.preventDefault();
    run(async () => setCreated(unwrap(await api.POST("/v1/api-keys", { body: { name, role, expires_in_days: 90 } }))), () => {
      setName("");
      reload();
    });
  };
  return (
    <Panel id="keys-title" title="API keys">
      <form className="inline-form" onSubmit={create}>
        <label>
          Key name <input required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Role{" "}
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="member">member</option>
            <option value="manager">manager</option>
            <option value="tenant_admin">tenant admin</option>
            <option value="partner">partner</option>
          </select>
        </label>
        <button type="submit">Create key</button>
      </form>
      {problem && <ProblemMessage problem={problem} />}
      {created && (
        <dl className="secret">
          <dt>The key (shown this once)</dt>
          <dd>
            <code data-testid="api-key">{created.key}</code>
          </dd>
        </dl>
      )}
      <Show loaded={keys} what="API keys">
        {(list) =>
          list.length === 0 ? (
            <Empty>No API key yet.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {list.map((k) => (
                  <tr key={k.id}>
                    <td>{k.name}</td>
                    <td>{k.role}</td>
                    <td>
                      <code>{k.prefix}</code>
                    </td>
                    <td>
                      {k.revoked_at ? (
                        "revoked"
                      ) : (
                        <button
                          type="button"
                          onClick={() =>
                            run(
                              async () =>
                                unwrap(await api.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: k.id } } })),
                              reload,
                            )
                          }
                        >
                          Revoke<span className="visually-hidden"> {k.name}</span>
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </Panel>
  );
}

function Retention() {
  const [policies, reload] = useLoaded(async () => unwrap(await api.GET("/v1/retention-policies")).items, "retention");
  const [edits, setEdits] = useState<Record<string, { hot_days?: number; cold_days?: number }>>({});
  const [problem, run] = useAction();
  return (
    <Panel id="retention-title" title="Retention">
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={policies} what="retention policies">
        {(items) => {
          const changes = retentionChanges(items, edits);
          return (
            <form
              onSubmit={(event) => {
                event.preventDefault();
                run(async () => unwrap(await api.PUT("/v1/retention-policies", { body: { policies: changes } })), () => {
                  setEdits({});
                  reload();
                });
              }}
            >
              <table>
                <caption>Days each class of data is kept in the database (hot), then in the archive (cold)</caption>
                <thead>
                  <tr>
                    <th scope="col">Data</th>
                    <th scope="col">Hot days</th>
                    <th scope="col">Cold days</th>
                    <th scope="col">Set by</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((p) => (
                    <tr key={p.data_class}>
                      <th scope="row">{p.data_class.replace(/_/g, " ")}</th>
                      {(["hot_days", "cold_days"] as const).map((field) => (
                        <td key={field}>
                          <input
                            type="number"
                            min={0}
                            aria-label={`${p.data_class.replace(/_/g, " ")} ${field.replace("_", " ")}`}
                            value={edits[p.data_class]?.[field] ?? p[field]}
                            onChange={(e) =>
                              setEdits({
                                ...edits,
                                [p.data_class]: { ...edits[p.data_class], [field]: Number(e.target.value) },
                              })
                            }
                          />
                        </td>
                      ))}
                      <td>{p.is_default ? "default" : (p.updated_by ?? "—")}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button type="submit" disabled={changes.length === 0}>
                Save retention
              </button>
            </form>
          );
        }}
      </Show>
    </Panel>
  );
}

function LegalHolds() {
  const [holds, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/legal-holds", { params: { query: { limit: 50 } } })).items,
    "holds",
  );
  const [scope, setScope] = useState("tenant");
  const [reason, setReason] = useState("");
  const [problem, run] = useAction();
  return (
    <Panel id="holds-title" title="Legal holds">
      <form
        className="inline-form"
        onSubmit={(event) => {
          event.preventDefault();
          run(async () => unwrap(await api.POST("/v1/legal-holds", { body: { scope, reason } })), () => {
            setReason("");
            reload();
          });
        }}
      >
        <label>
          Hold scope <input required value={scope} onChange={(e) => setScope(e.target.value)} />
        </label>
        <label>
          Reason <input required value={reason} onChange={(e) => setReason(e.target.value)} />
        </label>
        <button type="submit">Place hold</button>
      </form>
      <p className="hint">Scope: tenant, workspace:&lt;id&gt; or developer:&lt;id&gt;. Held data is never purged.</p>
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={holds} what="legal holds">
        {(items) =>
          items.length === 0 ? (
            <Empty>No legal hold.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Placed</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {items.map((h) => (
                  <tr key={h.id}>
                    <td>{h.scope}</td>
                    <td>{h.reason}</td>
                    <td>
                      {new Date(h.created_at).toLocaleDateString()} by {h.created_by}
                    </td>
                    <td>
                      {h.active ? (
                        <button
                          type="button"
                          onClick={() =>
                            run(
                              async () =>
                                unwrap(
                                  await api.POST("/v1/legal-holds/{hold_id}/release", {
                                    params: { path: { hold_id: h.id } },
                                    body: null,
                                  }),
                                ),
                              reload,
                            )
                          }
                        >
                          Release<span className="visually-hidden"> the hold on {h.scope}</span>
                        </button>
                      ) : (
                        `released ${h.released_at ? new Date(h.released_at).toLocaleDateString() : ""}`
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </Panel>
  );
}

/** The tenant's administration: audit log and its chain check, API keys, retention and
 * legal holds (the archive's). */
export function Admin() {
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <AuditLog />
      <ApiKeys />
      <Retention />
      <LegalHolds />
    </section>
  );
}
