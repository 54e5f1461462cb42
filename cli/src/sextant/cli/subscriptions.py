"""``sextant subscriptions …``: a tenant's partner subscriptions (signed outbound webhooks)
through the gateway's public API, as any client calls it."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from sextant.cli.client import TOKEN, URL, Api, ApiProblem, _fail, _listed, _table, console

subscriptions_app = typer.Typer(
    help="Partner subscriptions: signed outbound webhooks (a tenant admin's token).",
    no_args_is_help=True,
)

EVENT_TYPES = typer.Option(
    ...,
    "--event-type",
    "-e",
    help="an event type to send (repeat it), e.g. sextant.gates.evaluated.v1",
)


@subscriptions_app.command("create")
def subscription_create(
    target: str = typer.Argument(..., help="the receiver's https URL"),
    event_types: list[str] = EVENT_TYPES,
    description: str = typer.Option("", "--description", help="what it is for"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Subscribe TARGET to event types; prints the subscription's id, then its signing
    secret on a line of its own (shown this once: store it now)."""
    body = {"url": target, "event_types": event_types, "description": description}
    try:
        created = Api.connect(url, token).call("POST", "/v1/subscriptions", json=body).json()
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(
        f"subscription to [bold]{escape(created['url'])}[/bold] created; the secret below "
        "is shown this once: give it to the receiver to verify the signatures"
    )
    print(created["id"])
    print(created["secret"])


@subscriptions_app.command("list")
def subscription_list(url: str = URL, token: str = TOKEN) -> None:
    """Every subscription of the token's tenant, with its state."""
    try:
        found = _listed(Api.connect(url, token), "/v1/subscriptions", "subscriptions")
    except ApiProblem as problem:
        raise _fail(problem) from None
    table = _table("id", "url", "event types", "status", "failures")
    for s in found:
        status = (
            s["status"] if s["status"] == "active" else f"{s['status']}: {s['disabled_reason']}"
        )
        table.add_row(
            s["id"], s["url"], ", ".join(s["event_types"]), status, str(s["consecutive_failures"])
        )
    Console().print(table)


@subscriptions_app.command("deliveries")
def subscription_deliveries(
    subscription: str = typer.Argument(..., help="the subscription's id"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """A subscription's delivery log: each event, its attempts and the last answer."""
    path = f"/v1/subscriptions/{subscription}/deliveries"
    try:
        found = _listed(Api.connect(url, token), path, "deliveries")
    except ApiProblem as problem:
        raise _fail(problem) from None
    table = _table("event id", "type", "status", "attempts", "last answer", "next try")
    for d in found:
        answer = str(d["last_status_code"]) if d["last_status_code"] else d["last_error"] or ""
        table.add_row(
            d["event_id"],
            d["event_type"],
            d["status"],
            str(d["attempts"]),
            answer,
            d["next_attempt_at"] or "",
        )
    Console().print(table)


@subscriptions_app.command("delete")
def subscription_delete(
    subscription: str = typer.Argument(..., help="the subscription's id"),
    url: str = URL,
    token: str = TOKEN,
) -> None:
    """Delete a subscription: nothing more is sent to it."""
    try:
        Api.connect(url, token).call("DELETE", f"/v1/subscriptions/{subscription}")
    except ApiProblem as problem:
        raise _fail(problem) from None
    console.print(f"subscription {escape(subscription)} deleted")
