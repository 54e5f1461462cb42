// @vitest-environment jsdom
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The API client keeps the fetch it was made with: a page of no notifications, and a
// session that is over.
const answers = vi.hoisted(() => {
  const seen: string[] = [];
  globalThis.fetch = async (input: RequestInfo | URL) => {
    const path = new URL(input instanceof Request ? input.url : String(input)).pathname;
    seen.push(path);
    if (path === "/v1/session")
      return new Response(JSON.stringify({ status: 401, detail: "the session has ended" }), {
        status: 401,
        headers: { "content-type": "application/problem+json" },
      });
    return new Response(JSON.stringify({ items: [], next_cursor: null }), {
      headers: { "content-type": "application/json" },
    });
  };
  return seen;
});

import { NotificationCentre } from "./NotificationCentre";

/** A browser WebSocket the test opens and closes as the gateway would. */
class FakeSocket {
  static made: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  constructor(public url: string) {
    FakeSocket.made.push(this);
  }
  close() {}
}

beforeEach(() => {
  FakeSocket.made = [];
  answers.length = 0;
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.useFakeTimers({ shouldAdvanceTime: true });
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function connected(): Promise<FakeSocket> {
  render(<NotificationCentre tenant="t-1" />);
  await vi.waitFor(() => expect(FakeSocket.made).toHaveLength(1));
  return FakeSocket.made[0];
}

describe("the notification centre's stream", () => {
  it("stops and says signed out after a policy close, instead of retrying every 5 s", async () => {
    const socket = await connected();
    act(() => {
      socket.onopen?.();
      socket.onclose?.({ code: 1008 });
    });
    await act(() => vi.advanceTimersByTimeAsync(30_000));
    expect(FakeSocket.made).toHaveLength(1);
    expect(screen.getByTestId("notifications-signed-out").textContent).toContain("Signed out");
  });

  it("reconnects after 5 s when an open stream drops for another reason", async () => {
    const socket = await connected();
    act(() => {
      socket.onopen?.();
      socket.onclose?.({ code: 1006 });
    });
    await act(() => vi.advanceTimersByTimeAsync(4_900));
    expect(FakeSocket.made).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(200));
    expect(FakeSocket.made).toHaveLength(2);
    expect(screen.queryByTestId("notifications-signed-out")).toBeNull();
  });

  it("asks for the session when the stream is refused before it opens, and stops on a 401", async () => {
    const socket = await connected();
    act(() => socket.onclose?.({ code: 1006 }));
    await vi.waitFor(() => expect(screen.getByTestId("notifications-signed-out")).toBeTruthy());
    expect(answers).toContain("/v1/session");
    await act(() => vi.advanceTimersByTimeAsync(30_000));
    expect(FakeSocket.made).toHaveLength(1);
  });
});
