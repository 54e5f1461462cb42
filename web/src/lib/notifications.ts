// The notification centre's bookkeeping: pure, so Vitest checks it without a socket.
import type { Schemas } from "../api/client";
import { tenantPath } from "../api/client";

export type Notification = Schemas["NotificationReply"];

/** The stream's URL for this page: same host, ws or wss as the page is http or https,
 * under the tenant a platform admin acts on, from after the last seq seen. The session
 * cookie authenticates it (the gateway checks the Origin). */
export function streamUrl(location: { protocol: string; host: string }, tenant: string | null, after: number): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${tenantPath("/v1/notifications/stream", tenant)}?after=${after}`;
}

/** Newest first, each once (a reconnect may send again what the list already has). */
export function merged(known: Notification[], arriving: Notification[]): Notification[] {
  const byId = new Map(known.map((n) => [n.id, n]));
  for (const n of arriving) byId.set(n.id, { ...n, read: byId.get(n.id)?.read || n.read });
  return [...byId.values()].sort((a, b) => b.seq - a.seq);
}

export function unreadCount(list: Notification[]): number {
  return list.filter((n) => !n.read).length;
}

/** The highest seq seen: where a (re)connected stream starts. */
export function lastSeq(list: Notification[]): number {
  return list.reduce((max, n) => Math.max(max, n.seq), 0);
}

/** What the stream sent: a notification, or nothing worth keeping (a heartbeat). */
export function fromMessage(data: string): Notification | null {
  try {
    const message = JSON.parse(data) as { type?: string; notification?: Notification };
    return message.type === "notification" && message.notification ? message.notification : null;
  } catch {
    return null;
  }
}

/** WebSocket close code the gateway sends when the stream's credential ends (sign-out,
 * expiry, a revoked key or a deleted tenant): RFC 6455's "policy violation". */
export const POLICY_VIOLATION = 1008;

/** What the centre does after its stream closed: a policy close means the session is
 * over (retrying every few seconds would only be refused again); a stream refused before
 * it opened (a browser reports the gateway's refusal as 1006) asks the session first;
 * any other close reconnects. */
export function afterClose(code: number, opened: boolean): "signed-out" | "check-session" | "reconnect" {
  if (code === POLICY_VIOLATION) return "signed-out";
  return opened ? "reconnect" : "check-session";
}
