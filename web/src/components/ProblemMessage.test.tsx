// @vitest-environment jsdom
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { ProblemError, problemOf, unwrap } from "../api/problem";
import { ProblemMessage } from "./ProblemMessage";

afterEach(cleanup);

// What the forecast service answers for a scope with no finished work.
const UNPROCESSABLE = {
  type: "https://sextant.dev/problems/unprocessable",
  title: "Unprocessable",
  status: 422,
  detail: "scope workspace:0b8e2f6a has no finished work in its 52-week window",
};

function reply(status: number, statusText = ""): Response {
  return new Response(null, { status, statusText });
}

describe("problem+json errors", () => {
  it("shows the problem's title, status and detail as an alert", () => {
    render(<ProblemMessage problem={UNPROCESSABLE} />);
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toBe(
      "Unprocessable (422)scope workspace:0b8e2f6a has no finished work in its 52-week window",
    );
  });

  it("turns an error reply into the problem it carries", () => {
    const result = { error: UNPROCESSABLE, response: reply(422) };
    expect(() => unwrap(result)).toThrowError(ProblemError);
    try {
      unwrap(result);
    } catch (error) {
      expect((error as ProblemError).problem).toEqual(UNPROCESSABLE);
    }
  });

  it("names the status when the body is no problem (a proxy's page)", () => {
    expect(problemOf("<html>Bad gateway</html>", reply(502, "Bad Gateway"))).toEqual({
      title: "HTTP 502",
      status: 502,
      detail: "Bad Gateway",
    });
    expect(problemOf(undefined, undefined)).toEqual({
      title: "Network error",
      status: 0,
      detail: "the platform did not answer",
    });
  });

  it("gives the data of a success", () => {
    expect(unwrap({ data: { id: "w1" }, response: reply(200) })).toEqual({ id: "w1" });
  });
});
