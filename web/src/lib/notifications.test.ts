import { describe, expect, it } from "vitest";
import {
  afterClose,
  fromMessage,
  lastSeq,
  merged,
  streamUrl,
  unreadCount,
  type Notification,
} from "./notifications";

function note(seq: number, read = false): Notification {
  return {
    id: `n${seq}`,
    seq,
    read,
    title: `title ${seq}`,
    body: "details",
    severity: "warning",
    raised_by: "ingest",
    link: null,
    created_at: "2026-12-06T10:00:00Z",
  };
}

describe("the notification centre", () => {
  it("stops on a policy close, asks the session when refused at once, else reconnects", () => {
    expect(afterClose(1008, true)).toBe("signed-out");
    expect(afterClose(1008, false)).toBe("signed-out");
    expect(afterClose(1006, false)).toBe("check-session");
    expect(afterClose(1006, true)).toBe("reconnect");
    expect(afterClose(1001, true)).toBe("reconnect");
  });

  it("streams from the page's own host, under the tenant a platform admin acts on", () => {
    expect(streamUrl({ protocol: "http:", host: "127.0.0.1:8080" }, null, 0)).toBe(
      "ws://127.0.0.1:8080/v1/notifications/stream?after=0",
    );
    expect(streamUrl({ protocol: "https:", host: "sextant.example" }, "t-1", 42)).toBe(
      "wss://sextant.example/v1/tenants/t-1/notifications/stream?after=42",
    );
  });

  it("keeps each notification once, newest first, and a read one read", () => {
    const known = [note(3, true), note(1)];
    const list = merged(known, [note(3), note(4)]);
    expect(list.map((n) => [n.seq, n.read])).toEqual([
      [4, false],
      [3, true],
      [1, false],
    ]);
    expect(unreadCount(list)).toBe(2);
    expect(lastSeq(list)).toBe(4);
    expect(lastSeq([])).toBe(0);
  });

  it("takes notifications from the stream and leaves heartbeats and garbage", () => {
    expect(fromMessage(JSON.stringify({ type: "notification", notification: note(7) }))?.seq).toBe(7);
    expect(fromMessage(JSON.stringify({ type: "heartbeat", after: 7 }))).toBeNull();
    expect(fromMessage("not json")).toBeNull();
  });
});
