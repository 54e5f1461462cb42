// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { DemoOffer } from "./DemoOffer";

afterEach(cleanup);

describe("the demo offer on an empty tenant", () => {
  it("shows the command to run beside make run only when asked", () => {
    render(<DemoOffer />);
    const button = screen.getByRole("button", { name: "Load the demo" });
    expect(button.getAttribute("aria-expanded")).toBe("false");
    expect(screen.queryByTestId("demo-command")).toBeNull();
    fireEvent.click(button);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect(screen.getByTestId("demo-command").textContent).toBe(".venv/bin/sextant demo");
  });
});
