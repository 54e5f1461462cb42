import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { ProblemMessage } from "../components/ProblemMessage";
import { DemoOffer } from "../components/DemoOffer";
import { Empty, Show } from "../components/States";
import { usePortal } from "../session";
import { asProblem, useLoaded } from "../useLoaded";

/** A platform admin's tenants: pick the one the portal acts on, or create one. */
export function Tenants() {
  const { tenant, chooseTenant } = usePortal();
  const [tenants, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/tenants", { params: { query: { limit: 100 } } })),
    "tenants",
  );
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    try {
      const made = unwrap(await api.POST("/v1/tenants", { body: { name } }));
      setName("");
      chooseTenant(made.id);
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };

  return (
    <section aria-labelledby="tenants-title">
      <h1 id="tenants-title">Tenants</h1>
      <p className="hint">
        You are signed in as a platform admin. Pick the tenant whose data the pages show.
      </p>
      <Show loaded={tenants} what="tenants">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              No tenant yet: create the first below, or load the demo.
              <DemoOffer />
            </Empty>
          ) : (
            <ul className="cards">
              {page.items.map((t) => (
                <li key={t.id}>
                  <button
                    type="button"
                    className={t.id === tenant ? "chosen" : ""}
                    aria-pressed={t.id === tenant}
                    onClick={() => chooseTenant(t.id)}
                  >
                    {t.name}
                  </button>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
      <form onSubmit={create} className="inline-form">
        <label htmlFor="tenant-name">New tenant</label>
        <input
          id="tenant-name"
          value={name}
          required
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit">Create tenant</button>
      </form>
      {problem && <ProblemMessage problem={problem} />}
    </section>
  );
}
