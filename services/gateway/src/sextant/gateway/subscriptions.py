"""Partner subscriptions: signed outbound webhooks per tenant (ARCHITECTURE §3, §4).

Three parts, in the order an event meets them:

- :func:`fan_out`, run by the gateway's consumer on every topic: in the event's own
  transaction, one delivery row (the delivery log) and one queue row per active
  subscription *of the event's tenant* that asked for its type. Another tenant's
  subscriptions are never read, so its events cannot be sent there.
- :class:`DeliveryWorker`, one per replica: leases due deliveries of any tenant from the
  queue (at most ``subscription_concurrency_per_subscription`` in flight to one
  subscription over all replicas, at most ``subscription_concurrency`` in this replica),
  posts each signed per Standard Webhooks through the runtime's egress policy with a
  timeout, and writes the outcome: delivered, retried after exponential backoff with full
  jitter, or failed after ``subscription_max_attempts``. A slow or dead receiver holds
  only its own slots, for at most the timeout each: other subscriptions, other tenants'
  above all, keep being delivered.
- The signing secrets are sealed at rest with the runtime's SecretBox under
  ``SEXTANT_GATEWAY_SECRET_KEYS``: :func:`seal_stored_secrets` seals any plaintext left
  from before and reseals what an older key sealed; the start runs it
  (:func:`seal_at_start`) only until it has finished once under the current key.
- After ``subscription_disable_after`` consecutive failed attempts a subscription is
  disabled (its pending deliveries abandoned), audited, and the tenant's admins notified.

The use cases (create, delete) are audited through the outbox like every config change.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from sextant.contracts import Envelope, data_model_for, uuid7
from sextant.contracts.events.platform import ConfigChanged, NotificationRaised
from sextant.gateway.db import webhooks as repository
from sextant.gateway.db.webhooks import DeliveryRow, SubscriptionRow
from sextant.gateway.domain import webhooks
from sextant.gateway.settings import GatewaySettings
from sextant.runtime.app import ServiceState
from sextant.runtime.backoff import retry_delay
from sextant.runtime.db import Database, set_tenant
from sextant.runtime.egress import EgressPolicy, EgressRefused, egress_client, egress_policy
from sextant.runtime.errors import InvalidInput, NotFound
from sextant.runtime.outbox import Outbox
from sextant.runtime.sealing import KeySettings, SecretBox, key_id_of
from sextant.runtime.settings import RuntimeSettings
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

GATEWAY_KEYS = KeySettings(
    keys="SEXTANT_GATEWAY_SECRET_KEYS",
    single_key=None,
    key_file="gateway-secrets.key",
    service="the gateway",
)
SYSTEM_ACTOR = "gateway"  # who disables a failing subscription, in the audit log
MAX_ERROR = 500  # characters of an error kept in the delivery log


def _now() -> datetime:
    return datetime.now(UTC)


def _audit_view(row: SubscriptionRow) -> dict[str, object]:
    """A subscription as the audit log keeps it: never its secret."""
    return {
        "id": str(row.id),
        "url": row.url,
        "description": row.description,
        "event_types": list(row.event_types),
        "status": row.status,
        "disabled_reason": row.disabled_reason,
    }


async def _audit(
    session: AsyncSession,
    outbox: Outbox,
    row: SubscriptionRow,
    actor: str,
    action: str,
    before: SubscriptionRow | None,
    after: SubscriptionRow | None,
) -> None:
    change = ConfigChanged(
        actor=actor,
        action=action,
        target_type="subscription",
        target_id=str(row.id),
        before=_audit_view(before) if before is not None else None,
        after=_audit_view(after) if after is not None else None,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )
    await outbox.add(session, change, tenant_id=row.tenant_id, entity=f"subscription:{row.id}")


# use cases -------------------------------------------------------------------------------


def check_destination(policy: EgressPolicy, url: str) -> None:
    """Refuse, naming the field, a URL the egress policy refuses as written (http, a
    private or loopback address, ``localhost``); names are checked again on every
    delivery, after resolution."""
    try:
        policy.check_url(url)
    except EgressRefused as exc:
        raise InvalidInput(f"body.url: {exc}", parameter="url") from None


def check_event_types(event_types: Sequence[str]) -> list[str]:
    """The event types, each a registered one, without repeats (in the given order)."""
    unknown = []
    for name in event_types:
        try:
            data_model_for(name)
        except KeyError:
            unknown.append(name)
    if unknown:
        raise InvalidInput(
            f"body.event_types: unknown event type(s) {', '.join(map(repr, unknown))}; "
            "see /v1/events/asyncapi.json for the list",
            parameter="event_types",
        )
    return list(dict.fromkeys(event_types))


async def create_subscription(
    session: AsyncSession,
    outbox: Outbox,
    policy: EgressPolicy,
    tenant_id: UUID,
    *,
    url: str,
    description: str,
    event_types: Sequence[str],
    actor: str,
    box: SecretBox,
) -> tuple[SubscriptionRow, str]:
    """A new active subscription and its fresh secret (shown to the caller once, kept
    sealed)."""
    check_destination(policy, url)
    subscription_id = uuid7()
    secret = webhooks.new_secret(os.urandom)
    row = SubscriptionRow(
        tenant_id=tenant_id,
        id=subscription_id,
        url=url,
        description=description,
        event_types=check_event_types(event_types),
        sealed_secret=box.seal(secret, subscription_id),
        status="active",
        consecutive_failures=0,
        disabled_reason=None,
        created_by=actor,
        created_at=_now(),
        deleted_at=None,
    )
    await repository.create_subscription(session, row)
    await _audit(session, outbox, row, actor, "subscription.create", None, row)
    return row, secret


async def seal_stored_secrets(db: Database, box: SecretBox, *, tenants_per_batch: int = 200) -> int:
    """Seal every subscription secret still kept in plaintext (rows from before migration
    0005) and reseal those an older key sealed, tenant by tenant; how many were written.
    A sealed value that does not open (its key is gone, or it was altered) stops the start
    with an error naming the subscription: deliveries could not be signed."""
    written, after = 0, None
    while True:
        async with db.transaction() as session:
            page = await repository.tenants_after(session, after, tenants_per_batch)
            for tenant_id in page:
                await set_tenant(session, tenant_id)
                for subscription_id, plaintext, sealed in await repository.secrets_of(
                    session, tenant_id
                ):
                    try:
                        fresh = (
                            box.seal(plaintext, subscription_id)
                            if sealed is None
                            else box.reseal(sealed, subscription_id)
                        )
                    except ValueError as exc:  # KeyMissing, SealBroken
                        raise ValueError(f"subscription {subscription_id}: {exc}") from exc
                    if fresh is not None:
                        await repository.store_sealed_secret(
                            session, tenant_id, subscription_id, fresh
                        )
                        written += 1
        if len(page) < tenants_per_batch:
            return written
        after = page[-1]


def gateway_box(runtime: RuntimeSettings, settings: GatewaySettings) -> SecretBox:
    """The gateway's keys (``SEXTANT_GATEWAY_SECRET_KEYS``, else the embedded mode's key
    file): what seals subscription secrets and OIDC sign-ins' PKCE verifiers."""
    keys = settings.secret_keys
    return SecretBox.from_setting(
        None,
        runtime.data_dir,
        shared=runtime.bus == "kafka",
        keys=keys.get_secret_value() if keys else None,
        names=GATEWAY_KEYS,
    )


# The start's sealing pass leaves this mark, sealed with the key it ran under: a start whose
# current key opens it has nothing to seal (new secrets are sealed with that key as they are
# made), so it does not walk every tenant again. A new current key, or a key file made anew
# under the same id, does not open it: that start walks, and reseals or stops as before.
SEAL_MARK = "subscription_secrets"
SEAL_MARK_BOUND_TO = UUID("00000000-0000-0000-0000-5ea1ed5ec2e7")
SEAL_MARK_TEXT = "every subscription secret is sealed with this key"


async def seal_at_start(db: Database, box: SecretBox) -> int | None:
    """:func:`seal_stored_secrets` unless its last pass finished under ``box``'s current
    key (None: nothing walked); then the mark of this pass."""
    async with db.transaction() as session:
        mark = await repository.seal_mark(session, SEAL_MARK)
    if mark is not None and _opens(box, mark):
        return None
    written = await seal_stored_secrets(db, box)
    async with db.transaction() as session:
        sealed = box.seal(SEAL_MARK_TEXT, SEAL_MARK_BOUND_TO)
        await repository.put_seal_mark(session, SEAL_MARK, sealed, _now())
    return written


def _opens(box: SecretBox, mark: bytes) -> bool:
    """Whether ``mark`` was sealed with the current key (that very key, not only its id)."""
    try:
        return key_id_of(mark) == box.current and (
            box.open(mark, SEAL_MARK_BOUND_TO) == SEAL_MARK_TEXT
        )
    except ValueError:  # KeyMissing, SealBroken: another key's, or altered
        return False


async def delete_subscription(
    session: AsyncSession, outbox: Outbox, tenant_id: UUID, subscription_id: UUID, actor: str
) -> SubscriptionRow:
    """Stop a subscription: nothing more is sent, pending deliveries are abandoned."""
    row = await repository.get_subscription(session, tenant_id, subscription_id)
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    now = _now()
    await repository.stop_deliveries(session, tenant_id, subscription_id, now, deleted=True)
    await _audit(session, outbox, row, actor, "subscription.delete", row, None)
    return SubscriptionRow(**{**row.__dict__, "deleted_at": now})


# the consumer's side ---------------------------------------------------------------------


def partner_body(envelope: Envelope) -> str:
    """What a subscriber receives: the CloudEvents envelope as JSON, without the trace
    context (that is ours)."""
    return envelope.model_dump_json(exclude={"traceparent"})


async def fan_out(session: AsyncSession, envelopes: Sequence[Envelope]) -> int:
    """Queue a delivery of each event to each active subscription of its tenant that asked
    for its type; how many were queued. A batch is one tenant's events."""
    if not envelopes:
        return 0
    tenant_id = envelopes[0].tenantid
    wanted = await repository.active_subscriptions(session, tenant_id)
    if not wanted:
        return 0
    queued = 0
    now = _now()
    for envelope in envelopes:
        if envelope.tenantid != tenant_id:  # never expected: a batch is one tenant's
            continue
        for subscription_id, event_types in wanted:
            if envelope.type in event_types and await repository.enqueue_delivery(
                session,
                tenant_id,
                uuid7(),
                subscription_id,
                event_id=envelope.id,
                event_type=envelope.type,
                body=partner_body(envelope),
                now=now,
            ):
                queued += 1
    return queued


# the delivery worker ---------------------------------------------------------------------


class DeliveryWorker:
    """Delivers due webhooks; one per replica, started and stopped with the gateway."""

    def __init__(self, state: ServiceState, settings: GatewaySettings) -> None:
        self.state, self.settings = state, settings
        self.policy = egress_policy(state.settings)
        self.box = gateway_box(state.settings, settings)
        self.wake = asyncio.Event()
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        sealed = await seal_at_start(self.state.db, self.box)
        if sealed is None:
            log.info("subscriptions.secrets_sealed_before", key=self.box.current)
        elif sealed:
            log.info("subscriptions.secrets_sealed", count=sealed)
        timeout = self.settings.subscription_timeout_seconds
        self._client = egress_client(
            self.policy,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=self.settings.subscription_concurrency,
                max_keepalive_connections=self.settings.subscription_concurrency,
            ),
        )
        self._task = asyncio.create_task(self._run(), name="gateway:webhook-deliveries")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for task in list(self._in_flight):
            await cancel_and_wait(task)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception as exc:
                log.warning("subscriptions.worker_failed", error=str(exc))
            try:
                async with asyncio.timeout(self.settings.subscription_poll_seconds):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()

    async def deliver_due(self) -> int:
        """Start as many due deliveries as there are free slots; how many were started."""
        free = self.settings.subscription_concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        lease = timedelta(seconds=self.settings.subscription_timeout_seconds + 30)
        async with self.state.db.transaction() as session:
            claimed = await repository.claim_due(
                session,
                limit=free,
                per_subscription=self.settings.subscription_concurrency_per_subscription,
                lease=lease,
            )
        for delivery_id, tenant_id in claimed:
            task = asyncio.create_task(self._attempt_and_wake(delivery_id, tenant_id))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(claimed)

    async def _attempt_and_wake(self, delivery_id: UUID, tenant_id: UUID) -> None:
        try:
            await self.attempt(delivery_id, tenant_id)
        except Exception as exc:  # the lease runs out and another try takes it up
            log.warning(
                "subscriptions.attempt_crashed", delivery_id=str(delivery_id), error=repr(exc)
            )
        finally:
            self.wake.set()  # a slot is free

    async def attempt(self, delivery_id: UUID, tenant_id: UUID) -> None:
        """One try of one leased delivery, and its outcome written."""
        async with self.state.db.transaction(tenant_id) as session:
            delivery = await repository.get_delivery(session, tenant_id, delivery_id)
            subscription = (
                await repository.get_subscription(session, tenant_id, delivery.subscription_id)
                if delivery is not None
                else None
            )
            if (
                delivery is None
                or delivery.status != "pending"
                or subscription is None
                or subscription.status != "active"
            ):
                await repository.drop_from_queue(session, delivery_id)
                return
        status_code, error = await self._post(subscription, delivery)
        await self._record(subscription, delivery, status_code, error)

    async def _post(
        self, subscription: SubscriptionRow, delivery: DeliveryRow
    ) -> tuple[int | None, str | None]:
        """Send one delivery: (the receiver's status, None) or (None, why it failed)."""
        assert self._client is not None
        body = delivery.body.encode()
        secret = self.box.open(subscription.sealed_secret, subscription.id)
        headers = webhooks.signed_headers(
            secret, str(delivery.event_id), int(_now().timestamp()), body
        )
        timeout = self.settings.subscription_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                async with self._client.stream(
                    "POST", subscription.url, content=body, headers=headers
                ) as reply:
                    return reply.status_code, None
        except EgressRefused as exc:
            return None, f"refused by the egress policy: {exc}"
        except TimeoutError:
            return None, f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def _record(
        self,
        subscription: SubscriptionRow,
        delivery: DeliveryRow,
        status_code: int | None,
        error: str | None,
    ) -> None:
        settings = self.settings
        succeeded = status_code is not None and webhooks.delivered(status_code)
        if not succeeded and error is None:
            error = f"the receiver answered {status_code}"
        now = _now()
        attempt = delivery.attempts + 1
        retry_at = None
        if not succeeded and attempt < settings.subscription_max_attempts:
            wait = retry_delay(
                attempt,
                settings.subscription_backoff_seconds,
                settings.subscription_backoff_cap_seconds,
                random.random(),  # jitter, not a secret
            )
            retry_at = now + timedelta(seconds=wait)
        async with self.state.db.transaction(subscription.tenant_id) as session:
            run = await repository.record_attempt(
                session,
                delivery,
                now,
                status_code=status_code,
                error=None if succeeded else (error or "")[:MAX_ERROR],
                succeeded=succeeded,
                retry_at=retry_at,
            )
            if not succeeded and run >= settings.subscription_disable_after:
                await self._disable(session, subscription, run, error or "", now)
        log.info(
            "subscriptions.attempted",
            subscription_id=str(subscription.id),
            delivery_id=str(delivery.id),
            attempt=attempt,
            status_code=status_code,
            delivered=succeeded,
        )

    async def _disable(
        self,
        session: AsyncSession,
        subscription: SubscriptionRow,
        run: int,
        error: str,
        now: datetime,
    ) -> None:
        reason = f"{run} consecutive failed deliveries; the last: {error[:200]}"
        await repository.stop_deliveries(
            session, subscription.tenant_id, subscription.id, now, status="disabled", reason=reason
        )
        after = SubscriptionRow(
            **{**subscription.__dict__, "status": "disabled", "disabled_reason": reason}
        )
        outbox = self.state.outbox
        await _audit(
            session, outbox, subscription, SYSTEM_ACTOR, "subscription.disable", subscription, after
        )
        await outbox.add(
            session,
            NotificationRaised(
                notification_id=uuid7(),
                severity="error",
                audience=["tenant_admin"],
                title="A webhook subscription was disabled",
                body=f"Deliveries to {subscription.url} stopped after {reason}. Fix the "
                "receiver, then create the subscription again.",
                link=f"/v1/subscriptions/{subscription.id}/deliveries",
                raised_by="gateway",
            ),
            tenant_id=subscription.tenant_id,
            entity="notification",
        )
        log.warning("subscriptions.disabled", subscription_id=str(subscription.id), failures=run)


def worker_of(state: ServiceState) -> DeliveryWorker:
    worker: DeliveryWorker = state.extras["delivery_worker"]
    return worker


async def start(state: ServiceState, settings: GatewaySettings) -> None:
    worker = DeliveryWorker(state, settings)
    state.extras["delivery_worker"] = worker
    await worker.start()


async def stop(state: ServiceState) -> None:
    worker = state.extras.get("delivery_worker")
    if worker is not None:
        await worker.stop()
