import { useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import {
  afterClose,
  fromMessage,
  lastSeq,
  merged,
  streamUrl,
  unreadCount,
  type Notification,
} from "../lib/notifications";
import { asProblem } from "../useLoaded";
import { ProblemMessage } from "./ProblemMessage";

const RECONNECT_MS = 5_000;

/** The tenant's notifications: the newest page, then live over the WebSocket (the
 * session cookie authenticates it), with the unread count in the header and mark read. */
export function NotificationCentre({ tenant }: { tenant: string }) {
  const [list, setList] = useState<Notification[]>([]);
  const [open, setOpen] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [latest, setLatest] = useState<string | null>(null);
  const [signedOut, setSignedOut] = useState(false);
  const seen = useRef(0);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const endStream = () => {
      stopped = true;
      setSignedOut(true);
    };
    const connect = () => {
      if (stopped) return;
      let opened = false;
      socket = new WebSocket(streamUrl(window.location, tenant, seen.current));
      socket.onopen = () => {
        opened = true;
      };
      socket.onmessage = (event) => {
        const arrived = fromMessage(String(event.data));
        if (!arrived) return;
        seen.current = Math.max(seen.current, arrived.seq);
        setList((known) => merged(known, [arrived]));
        setLatest(arrived.title);
      };
      socket.onclose = (event) => {
        if (stopped) return;
        const next = afterClose(event.code, opened);
        if (next === "signed-out") endStream();
        else if (next === "reconnect") timer = setTimeout(connect, RECONNECT_MS);
        else
          api.GET("/v1/session").then(
            ({ response }) => {
              if (stopped) return;
              if (response.status === 401) endStream();
              else timer = setTimeout(connect, RECONNECT_MS);
            },
            () => {
              if (!stopped) timer = setTimeout(connect, RECONNECT_MS);
            },
          );
      };
    };
    api.GET("/v1/notifications", { params: { query: { limit: 50 } } }).then(
      (result) => {
        try {
          const page = unwrap(result).items;
          seen.current = lastSeq(page);
          setList((known) => merged(known, page));
        } catch (error) {
          setProblem(asProblem(error));
        }
        connect();
      },
      (error: unknown) => setProblem(asProblem(error)),
    );
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, [tenant]);

  const markRead = async (ids: string[] | null) => {
    setProblem(null);
    try {
      unwrap(await api.POST("/v1/notifications/read", { body: { ids } }));
      setList((known) => known.map((n) => (ids === null || ids.includes(n.id) ? { ...n, read: true } : n)));
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const unread = unreadCount(list);

  return (
    <div className="notifications">
      <button
        type="button"
        aria-expanded={open}
        aria-controls="notification-list"
        onClick={() => setOpen(!open)}
        data-testid="notifications-button"
      >
        Notifications <span className="count" data-testid="unread-count">{unread}</span>
        <span className="visually-hidden"> unread</span>
      </button>
      <p className="visually-hidden" role="status" aria-live="polite">
        {latest ? `New notification: ${latest}` : ""}
      </p>
      {signedOut && (
        <p className="hint" data-testid="notifications-signed-out">
          Signed out: notifications stopped. <a href="/">Sign in again</a>
        </p>
      )}
      {open && (
        <section id="notification-list" className="notification-list" aria-label="Notifications">
          {problem && <ProblemMessage problem={problem} />}
          {list.length === 0 ? (
            <p className="hint">Nothing yet: failures and finished reports show here as they happen.</p>
          ) : (
            <>
              <button type="button" disabled={unread === 0} onClick={() => markRead(null)}>
                Mark all read
              </button>
              <ul>
                {list.map((n) => (
                  <li key={n.id} className={n.read ? "read" : "unread"}>
                    <strong>{n.title}</strong> <span className={`severity severity-${n.severity}`}>{n.severity}</span>
                    <p>{n.body}</p>
                    <span className="hint">{new Date(n.created_at).toLocaleString()}</span>{" "}
                    {!n.read && (
                      <button type="button" onClick={() => markRead([n.id])}>
                        Mark read<span className="visually-hidden">: {n.title}</span>
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      )}
    </div>
  );
}
