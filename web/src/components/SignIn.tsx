import { useEffect, useState } from "react";
import { api, type Schemas } from "../api/client";
import type { Problem } from "../api/problem";
import { ProblemMessage } from "./ProblemMessage";

export type SignInProvider = Schemas["SignInProvider"];

/** Why the last sign-in failed: the gateway sends the browser back to the portal with
 * `?sign_in_error=` (a refused state, a declined consent, a provider down). */
export function signInError(search: string): string | null {
  const reason = new URLSearchParams(search).get("sign_in_error");
  return reason ? reason.slice(0, 300) : null;
}

/** The sign-in choices: a button per configured OIDC provider, the embedded mode's
 * one-time link, and why the last attempt failed. */
export function SignInChoices({
  providers,
  error,
  problem,
}: {
  providers: SignInProvider[];
  error: string | null;
  problem: Problem | null;
}) {
  return (
    <main id="main" className="signed-out">
      <h1>Sextant</h1>
      {error && (
        <div className="problem" role="alert" data-testid="sign-in-error">
          <strong>You are not signed in</strong>
          <p>{error}</p>
        </div>
      )}
      {providers.length > 0 && (
        <ul className="sign-in-providers" aria-label="Sign-in providers">
          {providers.map((p) => (
            <li key={p.name}>
              {/* A full navigation: the gateway redirects to the provider and back. */}
              <a className="button" href={p.login_url}>
                Sign in with {p.display_name}
              </a>
            </li>
          ))}
        </ul>
      )}
      <p>
        {providers.length > 0 ? "Or sign in" : "Sign in"} with the one-time link <code>make run</code> printed
        (the line <code>SEXTANT_SIGN_IN_URL=…</code>); each link opens one session.
      </p>
      {problem && problem.status !== 401 && <ProblemMessage problem={problem} />}
    </main>
  );
}

/** The page a browser without a session sees: the providers the gateway offers. */
export function SignedOut({ problem }: { problem: Problem }) {
  const [providers, setProviders] = useState<SignInProvider[]>([]);
  useEffect(() => {
    api.GET("/v1/auth/providers").then(
      ({ data }) => setProviders(data?.items ?? []),
      () => setProviders([]), // the link still works: the page says so
    );
  }, []);
  return <SignInChoices providers={providers} error={signInError(window.location.search)} problem={problem} />;
}
