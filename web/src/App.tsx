import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { actAsTenant, api, useCsrfToken, type Schemas } from "./api/client";
import { problemOf, type Problem } from "./api/problem";
import { ProblemMessage } from "./components/ProblemMessage";
import { Loading } from "./components/States";
import { NotificationCentre } from "./components/NotificationCentre";
import { SignedOut } from "./components/SignIn";
import { Admin } from "./pages/Admin";
import { DeveloperDetail } from "./pages/DeveloperDetail";
import { Developers } from "./pages/Developers";
import { Forecasts } from "./pages/Forecasts";
import { Gates } from "./pages/Gates";
import { Metrics } from "./pages/Metrics";
import { Overview } from "./pages/Overview";
import { Reports } from "./pages/Reports";
import { StaleWork } from "./pages/StaleWork";
import { Suggestions } from "./pages/Suggestions";
import { Tenants } from "./pages/Tenants";
import { Workspaces } from "./pages/Workspaces";
import { Link, navigate, usePath } from "./router";
import { SessionContext, usePortal, type PortalSession } from "./session";

const PAGES = [
  { path: "/", title: "Overview", page: Overview },
  { path: "/metrics", title: "Metrics", page: Metrics },
  { path: "/workspaces", title: "Workspaces & sources", page: Workspaces },
  { path: "/developers", title: "Developers", page: Developers },
  { path: "/forecasts", title: "Forecasts", page: Forecasts },
  { path: "/stale", title: "Stale work", page: StaleWork },
  { path: "/health", title: "Team health", page: Suggestions },
  { path: "/reports", title: "Reports", page: Reports },
  { path: "/gates", title: "Gates", page: Gates },
  { path: "/admin", title: "Admin", page: Admin },
];

type Theme = "light" | "dark";

function useTheme(): [Theme, () => void] {
  const preferred = window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  const [theme, setTheme] = useState<Theme>(
    (localStorage.getItem("sextant.theme") as Theme | null) ?? preferred,
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("sextant.theme", theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === "dark" ? "light" : "dark"))];
}

function stored(key: string): string | null {
  return localStorage.getItem(key);
}

function remember(key: string, value: string | null): void {
  if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, value);
}

function Layout({ theme, toggleTheme }: { theme: Theme; toggleTheme: () => void }) {
  const portal = usePortal();
  const path = usePath();
  const [problem, setProblem] = useState<Problem | null>(null);
  const admin = portal.session.role === "platform_admin";
  const needsTenant = admin && portal.tenant === null;
  const developer = /^\/developers\/([0-9a-f-]{36})$/.exec(path)?.[1] ?? null;
  // One component per path (a detail page's id in it), so a re-render keeps the page's state.
  const current = useMemo(
    () =>
      PAGES.find((p) => p.path === path) ??
      (developer ? { path, title: "Developer", page: () => <DeveloperDetail id={developer} /> } : null),
    [path, developer],
  );
  const Page = current?.page;

  const first = useRef(true);
  useEffect(() => {
    document.title = current ? `${current.title} · Sextant` : "Sextant";
    // After a click in the navigation, keyboard and screen-reader users land on the page.
    if (!first.current) document.getElementById("main")?.focus();
    first.current = false;
  }, [current]);

  const signOut = async () => {
    const { error, response } = await api.DELETE("/v1/session");
    if (!response.ok) {
      setProblem(problemOf(error, response));
      return;
    }
    remember("sextant.tenant", null);
    window.location.assign("/");
  };

  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Sextant</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <Link to={p.path} current={p.path === path || (p.path === "/developers" && developer !== null)}>
                  {p.title}
                </Link>
              </li>
            ))}
            {admin && (
              <li>
                <Link to="/tenants" current={path === "/tenants"}>
                  Tenants
                </Link>
              </li>
            )}
          </ul>
        </nav>
        <div className="who">
          {portal.tenant && <NotificationCentre key={portal.tenant} tenant={portal.tenant} />}
          <span>
            {portal.session.subject} ({portal.session.role.replace("_", " ")})
          </span>
          <button type="button" onClick={toggleTheme} aria-label={`Use the ${theme === "dark" ? "light" : "dark"} theme`}>
            {theme === "dark" ? "Light" : "Dark"} theme
          </button>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {problem && <ProblemMessage problem={problem} />}
        {path === "/tenants" || (needsTenant && Page) ? (
          <Tenants />
        ) : Page ? (
          <Page />
        ) : (
          <section>
            <h1>Not found</h1>
            <p>
              No page at <code>{path}</code>. <Link to="/">Back to the overview</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}

/** The portal: who is signed in first, then the layout and the page the URL names. */
export function App() {
  const [theme, toggleTheme] = useTheme();
  const [session, setSession] = useState<Schemas["SessionReply"] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [tenant, setTenant] = useState<string | null>(() => stored("sextant.tenant"));
  const [scope, setScope] = useState<string | null>(() => stored("sextant.scope"));

  useEffect(() => {
    api.GET("/v1/session").then(({ data, error, response }) => {
      if (data) {
        useCsrfToken(data.csrf_token);
        setSession(data);
      } else setProblem(problemOf(error, response));
    });
  }, []);

  const chooseTenant = useCallback((next: string | null) => {
    remember("sextant.tenant", next);
    remember("sextant.scope", null);
    setTenant(next);
    setScope(null);
  }, []);
  const chooseScope = useCallback((next: string | null) => {
    remember("sextant.scope", next);
    setScope(next);
  }, []);

  // A tenant role's own tenant; a platform admin's chosen one (through /v1/tenants/{id}/…).
  const acting = session?.role === "platform_admin" ? tenant : null;
  actAsTenant(acting);
  const value = useMemo<PortalSession | null>(
    () =>
      session && {
        session,
        tenant: session.role === "platform_admin" ? tenant : session.tenant_id,
        chooseTenant: (next) => {
          chooseTenant(next);
          if (next) navigate("/workspaces");
        },
        scope,
        chooseScope,
      },
    [session, tenant, scope, chooseTenant, chooseScope],
  );

  if (problem) return <SignedOut problem={problem} />;
  if (!value)
    return (
      <main id="main">
        <Loading what="your session" />
      </main>
    );
  return (
    <SessionContext.Provider value={value}>
      <Layout key={acting ?? "own"} theme={theme} toggleTheme={toggleTheme} />
    </SessionContext.Provider>
  );
}
