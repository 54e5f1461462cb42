// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { SignInChoices, signInError } from "./SignIn";

afterEach(cleanup);

const signedOut = { status: 401, title: "Unauthenticated", detail: "no session", type: "about:blank" };

describe("the sign-in page", () => {
  it("offers a button per configured provider, each starting the gateway's login", () => {
    render(
      <SignInChoices
        providers={[
          { name: "corp", display_name: "Corp SSO", login_url: "/v1/auth/oidc/corp/login" },
          { name: "okta", display_name: "Okta", login_url: "/v1/auth/oidc/okta/login" },
        ]}
        error={null}
        problem={signedOut}
      />,
    );
    const buttons = screen.getAllByRole("link", { name: /^Sign in with / });
    expect(buttons.map((b) => [b.textContent, b.getAttribute("href")])).toEqual([
      ["Sign in with Corp SSO", "/v1/auth/oidc/corp/login"],
      ["Sign in with Okta", "/v1/auth/oidc/okta/login"],
    ]);
    expect(screen.getByText(/Or sign in/)).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull(); // a plain 401 is no error to show
  });

  it("shows why the last sign-in was refused, from the gateway's redirect", () => {
    const reason = signInError("?sign_in_error=Corp+SSO+answered+%27access_denied%27");
    expect(reason).toBe("Corp SSO answered 'access_denied'");
    render(<SignInChoices providers={[]} error={reason} problem={signedOut} />);
    expect(screen.getByRole("alert").textContent).toContain("Corp SSO answered 'access_denied'");
    expect(screen.queryByRole("list", { name: "Sign-in providers" })).toBeNull();
    expect(signInError("?other=1")).toBeNull();
  });
});
