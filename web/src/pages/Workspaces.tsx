import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { DemoOffer } from "../components/DemoOffer";
import { SourceActivity } from "../components/SourceActivity";
import { Empty, More, Show } from "../components/States";
import { usePortal } from "../session";
import { asProblem, useLoaded, usePaged } from "../useLoaded";

const KINDS = ["github", "gitlab", "jira", "generic"] as const;
type Kind = (typeof KINDS)[number];

function Copy({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="copy"
      onClick={() => navigator.clipboard?.writeText(text).then(() => setCopied(true))}
      aria-label={`Copy ${label}`}
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}

function Sources({ workspace }: { workspace: Schemas["WorkspaceReply"] }) {
  const [sources, reload] = useLoaded(
    async () =>
      unwrap(
        await api.GET("/v1/workspaces/{workspace_id}/sources", {
          params: { path: { workspace_id: workspace.id } },
        }),
      ),
    `sources:${workspace.id}`,
  );
  const [kind, setKind] = useState<Kind>("github");
  const [name, setName] = useState("");
  const [created, setCreated] = useState<Schemas["CreatedSourceReply"] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [watched, setWatched] = useState<Schemas["SourceReply"] | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    try {
      const made = unwrap(
        await api.POST("/v1/workspaces/{workspace_id}/sources", {
          params: { path: { workspace_id: workspace.id } },
          body: { kind, name },
        }),
      );
      setCreated(made);
      setName("");
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="sources-title" className="panel">
      <h2 id="sources-title">Sources of {workspace.name}</h2>
      <Show loaded={sources} what="sources">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No source yet: connect a tool below, then paste its webhook URL there.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Tool</th>
                  <th scope="col">Webhook URL</th>
                  <th scope="col">Deliveries</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((s) => (
                  <tr key={s.id}>
                    <td>{s.name}</td>
                    <td>{s.kind}</td>
                    <td>
                      <code>{s.webhook_url}</code> <Copy text={s.webhook_url} label={`${s.name}'s webhook URL`} />
                    </td>
                    <td>
                      <button
                        type="button"
                        aria-pressed={watched?.id === s.id}
                        onClick={() => setWatched(watched?.id === s.id ? null : s)}
                      >
                        Deliveries<span className="visually-hidden"> of {s.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      {watched && <SourceActivity key={watched.id} source={watched} />}
      <form onSubmit={create} className="inline-form">
        <label htmlFor="source-kind">Tool</label>
        <select id="source-kind" value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          {KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
        <label htmlFor="source-name">Name</label>
        <input
          id="source-name"
          value={name}
          required
          maxLength={200}
          placeholder="acme/web or ENG"
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit">Connect source</button>
      </form>
      {problem && <ProblemMessage problem={problem} />}
      {created && (
        <div className="secret" role="status">
          <p>
            <strong>{created.name}</strong> is connected. Give the tool this URL and secret; the
            secret is shown this once.
          </p>
          <dl>
            <dt>Webhook URL</dt>
            <dd>
              <code data-testid="webhook-url">{created.webhook_url}</code>{" "}
              <Copy text={created.webhook_url} label="the webhook URL" />
            </dd>
            <dt>Secret</dt>
            <dd>
              <code data-testid="webhook-secret">{created.secret}</code>{" "}
              <Copy text={created.secret} label="the secret" />
            </dd>
            <dt>Source id</dt>
            <dd>
              <code data-testid="source-id">{created.id}</code>
            </dd>
          </dl>
        </div>
      )}
    </section>
  );
}

/** The tenant's workspaces (paged), a form to add one, and the chosen one's sources. */
export function Workspaces() {
  const { scope, chooseScope } = usePortal();
  const { loaded, more, restart } = usePaged(
    async (cursor) => unwrap(await api.GET("/v1/workspaces", { params: { query: { limit: 50, cursor } } })),
    "workspaces",
  );
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const chosenId = scope?.startsWith("workspace:") ? scope.slice("workspace:".length) : null;

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    try {
      const made = unwrap(await api.POST("/v1/workspaces", { body: { name } }));
      setName("");
      chooseScope(`workspace:${made.id}`);
      restart();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="workspaces-title">
      <h1 id="workspaces-title">Workspaces &amp; sources</h1>
      <form onSubmit={create} className="inline-form">
        <label htmlFor="workspace-name">New workspace</label>
        <input
          id="workspace-name"
          value={name}
          required
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit">Create workspace</button>
      </form>
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={loaded} what="workspaces">
        {({ all, next }) => {
          if (all.length === 0)
            return (
              <Empty>
                No workspace yet: create one above, or load the demo (a tenant of its own).
                <DemoOffer />
              </Empty>
            );
          const chosen = all.find((w) => w.id === chosenId);
          return (
            <>
              <ul className="cards" aria-label="Workspaces">
                {all.map((w) => (
                  <li key={w.id}>
                    <button
                      type="button"
                      className={w.id === chosenId ? "chosen" : ""}
                      aria-pressed={w.id === chosenId}
                      onClick={() => chooseScope(`workspace:${w.id}`)}
                    >
                      {w.name}
                    </button>
                  </li>
                ))}
              </ul>
              <More next={next} more={more} what="workspaces" />
              {chosen && <Sources workspace={chosen} />}
            </>
          );
        }}
      </Show>
    </section>
  );
}
