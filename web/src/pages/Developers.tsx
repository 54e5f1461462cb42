import { useState } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/problem";
import { Empty, More, Show } from "../components/States";
import { Link } from "../router";
import { asProblem, useLoaded, usePaged } from "../useLoaded";
import { ProblemMessage } from "../components/ProblemMessage";
import type { Problem } from "../api/problem";
import { suggestionWording } from "../lib/identity";

const PAGE = 50;

/** The tenant's developers, a page at a time (the API's cursor). */
export function Developers() {
  const { loaded, more } = usePaged(
    async (cursor) => unwrap(await api.GET("/v1/developers", { params: { query: { limit: PAGE, cursor } } })),
    "developers",
  );
  return (
    <section aria-labelledby="developers-title">
      <h1 id="developers-title">Developers</h1>
      <Show loaded={loaded} what="developers">
        {({ all, next }) => {
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
                      <td>
                        <Link to={`/developers/${d.id}`}>{d.display_name ?? "Unnamed developer"}</Link>
                      </td>
                      <td>{d.aliases}</td>
                      <td>{d.is_bot ? "bot" : "person"}{d.locked ? ", locked" : ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <More next={next} more={more} what="developers" />
            </>
          );
        }}
      </Show>
      <Suggestions />
    </section>
  );
}

/** Links too weak to merge on their own, and merges an address later found shared put in
 * doubt: a person confirms (merge the pair, or split the aliases out) or rejects (never
 * suggested again; a split's developer stays whole). */
function Suggestions() {
  const [pending, reload] = useLoaded(
    async () => unwrap(await api.GET("/v1/developers/merge-suggestions", { params: { query: { limit: 50 } } })),
    "suggestions",
  );
  const [problem, setProblem] = useState<Problem | null>(null);
  const decide = async (id: string, verdict: "confirm" | "reject") => {
    setProblem(null);
    try {
      const path = { params: { path: { suggestion_id: id } } };
      unwrap(
        verdict === "confirm"
          ? await api.POST("/v1/developers/merge-suggestions/{suggestion_id}/confirm", path)
          : await api.POST("/v1/developers/merge-suggestions/{suggestion_id}/reject", path),
      );
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const [revisited, setRevisited] = useState<string | null>(null);
  /** A tenant admin asks identity to weigh its early name links against the names it
   * knows now: it only suggests (splits, new scores), never merges or splits itself. */
  const revisit = async () => {
    setProblem(null);
    try {
      const done = unwrap(await api.POST("/v1/developers/revisit", {}));
      setRevisited(`${done.suggested} new split suggestions, ${done.rescored} re-scored`);
      reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <section aria-labelledby="suggestions-title" className="panel">
      <h2 id="suggestions-title">Merge and split suggestions</h2>
      <p>
        <button type="button" onClick={revisit}>
          Weigh early name links again
        </button>{" "}
        {revisited && <span role="status">{revisited}</span>}
      </p>
      {problem && <ProblemMessage problem={problem} />}
      <Show loaded={pending} what="merge and split suggestions">
        {(list) =>
          list.items.length === 0 ? (
            <Empty>No suggestion waiting: every link found was strong enough, or decided.</Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Developers</th>
                  <th scope="col">Why</th>
                  <th scope="col">Decide</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((s) => {
                  const wording = suggestionWording(s.kind, s.alias_ids?.length ?? 0);
                  return (
                    <tr key={s.id}>
                      <td>
                        {s.kind === "split" ? (
                          <span>
                            {wording.what}{" "}
                            <Link to={`/developers/${s.developer_ids[0]}`}>{s.developer_ids[0].slice(0, 8)}</Link>
                          </span>
                        ) : (
                          s.developer_ids.map((d, i) => (
                            <span key={d}>
                              {i > 0 && " and "}
                              <Link to={`/developers/${d}`}>{d.slice(0, 8)}</Link>
                            </span>
                          ))
                        )}
                      </td>
                      <td>
                        {s.rule} (score {s.score.toFixed(2)})
                      </td>
                      <td>
                        <button type="button" onClick={() => decide(s.id, "confirm")}>
                          {wording.confirm}
                        </button>{" "}
                        <button type="button" onClick={() => decide(s.id, "reject")}>
                          {wording.reject}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}
