import { useState } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap } from "../api/problem";
import { Empty, Show } from "../components/States";
import { useLoaded } from "../useLoaded";

const PAGE = 50;

/** The tenant's developers, a page at a time (the API's cursor). */
export function Developers() {
  const [cursor, setCursor] = useState<string | null>(null);
  const [earlier, setEarlier] = useState<Schemas["DeveloperSummary"][]>([]);
  const [page] = useLoaded(
    async () =>
      unwrap(await api.GET("/v1/developers", { params: { query: { limit: PAGE, cursor } } })),
    `developers:${cursor}`,
  );
  return (
    <section aria-labelledby="developers-title">
      <h1 id="developers-title">Developers</h1>
      <Show loaded={page} what="developers">
        {(current) => {
          const all = [...earlier, ...current.items];
          if (all.length === 0)
            return <Empty>No developer yet: they appear as the sources' webhooks name them.</Empty>;
          return (
            <>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Accounts</th>
                    <th scope="col">Kind</th>
                  </tr>
                </thead>
                <tbody>
                  {all.map((d) => (
                    <tr key={d.id}>
                      <td>{d.display_name}</td>
                      <td>{d.aliases}</td>
                      <td>{d.is_bot ? "bot" : "person"}{d.locked ? ", locked" : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {current.next_cursor && (
                <button
                  type="button"
                  onClick={() => {
                    setEarlier(all);
                    setCursor(current.next_cursor ?? null);
                  }}
                >
                  More developers
                </button>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}
