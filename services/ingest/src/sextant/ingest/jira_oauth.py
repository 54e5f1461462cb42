"""Connecting a Jira source with OAuth 2.0 (Atlassian 3LO, authorization code with PKCE),
and keeping it connected.

1. A tenant admin starts it for a source: a random ``state`` (kept server-side as its
   SHA-256, bound to tenant, source and admin, single-use, short-lived) and a PKCE
   verifier (sealed), and the consent URL to send the browser to.
2. Atlassian sends the browser to the callback on the gateway with ``code`` and
   ``state``. The state is claimed under its row lock — used once, whatever comes next —
   then the code is exchanged with the verifier, the grant's Jira site found among its
   accessible resources, and the access and refresh tokens stored sealed.
3. A refresher in every replica refreshes grants before they expire (jittered, each
   under its row lock taken with SKIP LOCKED, so one replica refreshes each grant); the
   rotated refresh token is stored with the new access token in that same transaction.
4. A refresh the token endpoint refuses (``invalid_grant``, 401: the app was removed or
   the grant revoked) marks the source needs-reconnect and notifies the tenant's admins
   once; the refresher leaves it until an admin connects it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from sextant.ingest import atlassian, service
from sextant.ingest.db import repository
from sextant.ingest.db.repository import OAuthGrantRow, OAuthStateRow, SourceRow
from sextant.ingest.reading import notice
from sextant.ingest.settings import IngestSettings
from sextant.runtime.app import ServiceState
from sextant.runtime.errors import (
    Conflict,
    DomainError,
    Gone,
    InvalidInput,
    NotFound,
    Unavailable,
)
from sextant.runtime.pkce import pkce_pair
from sextant.runtime.sealing import KeyMissing
from sextant.runtime.tasks import cancel_and_wait

log = structlog.get_logger()

CALLBACK_PATH = "/v1/oauth/jira/callback"
CONNECTED, NEEDS_RECONNECT = "connected", "needs_reconnect"
REFRESH_BATCH = 50  # grants refreshed per look; the rest at the next one, which comes soon
REFRESH_JITTER_SECONDS = 60.0


class AuthorizationServerFailed(DomainError):
    """Atlassian's token or resources endpoint failed: nothing was connected."""

    status, title, type_slug = 502, "Bad gateway", "authorization-server-failed"


class ConsentRefused(DomainError):
    """The user declined at Atlassian's consent page, or Atlassian refused the code."""

    status, title, type_slug = 403, "Consent refused", "consent-refused"


@dataclass(frozen=True)
class Started:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    source_id: UUID
    tenant_id: UUID
    site_url: str
    cloud_id: str
    expires_at: datetime


def redirect_uri(settings: IngestSettings) -> str:
    """The callback Atlassian sends the browser back to: the gateway's, unless set."""
    if settings.jira_oauth_redirect_uri:
        return settings.jira_oauth_redirect_uri
    return f"{settings.public_base_url.rstrip('/')}{CALLBACK_PATH}"


def _configured(settings: IngestSettings) -> None:
    if not settings.jira_oauth_client_id or settings.jira_oauth_client_secret is None:
        raise Conflict(
            "Jira OAuth 2.0 is not configured on this deployment: the operator sets "
            "SEXTANT_INGEST_JIRA_OAUTH_CLIENT_ID and SEXTANT_INGEST_JIRA_OAUTH_CLIENT_SECRET "
            "(an Atlassian OAuth 2.0 app); a pasted token in the credentials still works"
        )
    if not redirect_uri(settings).startswith(("https://", "http://")):
        raise Conflict(
            "Jira OAuth 2.0 has no callback URL: the operator sets SEXTANT_INGEST_PUBLIC_BASE_URL "
            "(the gateway's public address) or SEXTANT_INGEST_JIRA_OAUTH_REDIRECT_URI"
        )


def _hash(state: str) -> bytes:
    return hashlib.sha256(state.encode()).digest()


def _oauth(state: ServiceState) -> atlassian.AtlassianOAuth:
    ingest = service.ingest_of(state)
    return atlassian.AtlassianOAuth(ingest.settings, ingest.backfills.egress)


async def start(state: ServiceState, tenant_id: UUID, source_id: UUID, actor: str) -> Started:
    """A consent for ``source_id``, started by ``actor``: the URL to send the browser to."""
    ingest = service.ingest_of(state)
    settings = ingest.settings
    _configured(settings)
    verifier, challenge = pkce_pair()
    token = secrets.token_urlsafe(32)
    now = _now()
    expires_at = now + timedelta(seconds=settings.jira_oauth_state_seconds)
    callback = redirect_uri(settings)
    async with state.db.transaction(tenant_id) as session:
        source = await service.source_or_404(session, source_id)
        if source.kind != "jira":
            raise InvalidInput(
                f"source_id: source {source_id} is a {source.kind} source; OAuth 2.0 with "
                "Atlassian connects Jira sources"
            )
        if source.suspended_at is not None:
            raise Gone(f"source {source_id} belongs to a deleted workspace or tenant")
        row = OAuthStateRow(
            state_hash=_hash(token),
            tenant_id=tenant_id,
            source_id=source_id,
            started_by=actor,
            verifier_sealed=ingest.box.seal(verifier, source_id),
            redirect_uri=callback,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
        )
        await repository.add_oauth_state(session, row, prune_before=now - timedelta(days=1))
    log.info("jira_oauth.started", source_id=str(source_id), by=actor)
    return Started(atlassian.consent_url(settings, callback, token, challenge), token, expires_at)


async def finish(
    state: ServiceState,
    *,
    code: str | None,
    state_token: str | None,
    error: str | None,
    error_description: str | None,
) -> Connected:
    """The callback: claim the state, then exchange the code and store the grant.

    Each refusal is a problem the browser shows: no, unknown (400), used (409) or expired
    (410) state; consent declined (403); a code Atlassian refuses — a PKCE verifier that
    does not match, a code spent or for another app — (403); the token or resources
    endpoint failing (502). The state is spent by any callback that names it."""
    if not state_token:
        raise InvalidInput("state: missing; start the connection again from Sextant")
    now = _now()
    async with state.db.transaction() as session:
        row, claimed = await repository.claim_oauth_state(session, _hash(state_token), now)
    if row is None:
        raise InvalidInput(
            "state: unknown; it does not come from a connection this deployment started "
            "(start it again from Sextant)"
        )
    if not claimed:
        raise Conflict(
            "state: already used; each consent's callback is taken once (start the "
            "connection again from Sextant)"
        )
    if row.expires_at < now:
        raise Gone(
            f"state: expired at {row.expires_at.isoformat()}; a consent must come back "
            "within its time (start the connection again from Sextant)"
        )
    if error:
        said = f" ({error_description[:200]})" if error_description else ""
        log.info("jira_oauth.declined", source_id=str(row.source_id), error=error[:64])
        raise ConsentRefused(
            f"error: Atlassian answered {error[:64]!r}{said}; nothing was connected "
            "(start again and grant access to connect)"
        )
    if not code:
        raise InvalidInput("code: missing; Atlassian's callback carries one")
    ingest = service.ingest_of(state)
    try:
        verifier = ingest.box.open(row.verifier_sealed, row.source_id)
    except KeyMissing as exc:  # the operator's to fix (a key removed before a reseal)
        raise Unavailable(
            f"the consent's verifier is sealed with key {exc.key_id!r}, which this ingest "
            "replica is not configured with (SEXTANT_INGEST_SECRET_KEYS)",
            key_id=exc.key_id,
        ) from None
    oauth = _oauth(state)
    try:
        tokens = await oauth.exchange(code, verifier, row.redirect_uri)
        sites = await oauth.sites(tokens.access_token)
    except atlassian.TokenRefused as exc:
        raise ConsentRefused(
            f"code: {exc}; nothing was connected (start the connection again)"
        ) from None
    except atlassian.ServerFailed as exc:
        log.warning("jira_oauth.exchange_failed", source_id=str(row.source_id), error=str(exc))
        raise AuthorizationServerFailed(
            f"Atlassian's authorization server failed: {exc}; nothing was connected "
            "(start the connection again shortly)"
        ) from None
    return await _store_grant(state, row, tokens, sites)


async def _store_grant(
    state: ServiceState, row: OAuthStateRow, tokens: atlassian.Tokens, sites: list[atlassian.Site]
) -> Connected:
    ingest = service.ingest_of(state)
    async with state.db.transaction(row.tenant_id) as session:
        source = await repository.get_source(session, row.source_id)
        if source is None:
            raise NotFound(f"source {row.source_id} was deleted while its consent was given")
        site = _site_for(source, sites, ingest)
        now = _now()
        expires_at = now + timedelta(seconds=tokens.expires_in)
        grant = OAuthGrantRow(
            tenant_id=row.tenant_id,
            source_id=row.source_id,
            tokens_sealed=_seal(ingest, tokens, row.source_id),
            cloud_id=site.cloud_id,
            site_url=site.url,
            scopes=tokens.scope,
            expires_at=expires_at,
            status=CONNECTED,
            error=None,
            connected_by=row.started_by,
            connected_at=now,
            refreshed_at=None,
        )
        await repository.save_oauth_grant(session, grant, _refresh_at(ingest.settings, expires_at))
        await service.audit_source(
            state.outbox,
            session,
            source,
            row.started_by,
            "source.oauth_connect",
            None,
            {"provider": "jira", "site_url": site.url, "cloud_id": site.cloud_id},
        )
    log.info("jira_oauth.connected", source_id=str(row.source_id), site=site.url)
    return Connected(row.source_id, row.tenant_id, site.url, site.cloud_id, expires_at)


def _site_for(
    source: SourceRow, sites: list[atlassian.Site], ingest: service.Ingest
) -> atlassian.Site:
    """The grant's site: the one the source's credentials name (``site_url``), else the
    only one; several with none named is the admin's choice to make."""
    wanted = ""
    if source.credentials_sealed:
        opened = json.loads(service.open_sealed(ingest.box, source.credentials_sealed, source))
        wanted = str(opened.get("site_url") or "").rstrip("/")
    if wanted:
        for site in sites:
            if site.url.rstrip("/") == wanted:
                return site
    elif len(sites) == 1:
        return sites[0]
    names = ", ".join(site.url for site in sites) or "none"
    raise Conflict(
        f"site_url: the consent granted these Jira sites: {names}; set the source's "
        "credentials.site_url to the one to read and connect again",
        sites=[site.url for site in sites],
    )


def _seal(ingest: service.Ingest, tokens: atlassian.Tokens, source_id: UUID) -> bytes:
    plain = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}
    return ingest.box.seal(json.dumps(plain), source_id)


def _refresh_at(settings: IngestSettings, expires_at: datetime) -> datetime:
    """Before expiry, less a random part of a minute so grants and replicas spread out."""
    early = settings.jira_oauth_refresh_before_seconds + random.uniform(0, REFRESH_JITTER_SECONDS)
    return expires_at - timedelta(seconds=early)


async def grant_of(state: ServiceState, tenant_id: UUID, source_id: UUID) -> OAuthGrantRow:
    async with state.db.transaction(tenant_id) as session:
        await service.source_or_404(session, source_id)
        grant = await repository.get_oauth_grant(session, source_id)
    if grant is None:
        raise NotFound(f"source {source_id} is not connected with OAuth 2.0")
    return grant


# refreshing ----------------------------------------------------------------------------


async def refresh_due(state: ServiceState, now: datetime | None = None) -> int:
    """Refresh every grant due (up to a batch); how many were refreshed."""
    now = now or _now()
    async with state.db.transaction() as session:
        due = await repository.due_refreshes(session, now, REFRESH_BATCH)
    refreshed = 0
    for source_id, tenant_id in due:
        try:
            refreshed += await refresh(state, tenant_id, source_id, due_by=now)
        except Exception:  # one grant's fault (a key gone, a bug) must not stop the rest
            log.warning("jira_oauth.refresh_crashed", source_id=str(source_id), exc_info=True)
    return refreshed


async def refresh(
    state: ServiceState, tenant_id: UUID, source_id: UUID, *, due_by: datetime | None = None
) -> bool:
    """Refresh one grant under its row lock; False when another replica holds it, it is
    not due by ``due_by`` any more (another replica just refreshed it), or the refresh
    failed (retried later, or marked needs-reconnect). Without ``due_by``: now."""
    ingest = service.ingest_of(state)
    settings = ingest.settings
    async with state.db.transaction(tenant_id) as session:
        grant = await repository.get_oauth_grant(session, source_id, lock=True)
        if grant is None:
            if await repository.get_oauth_grant(session, source_id) is None:  # gone
                await repository.schedule_refresh(session, tenant_id, source_id, None)
            return False  # else another replica is refreshing it
        source = await repository.get_source(session, source_id, include_deleted=True)
        if source is None or source.deleted_at is not None:
            await repository.schedule_refresh(session, tenant_id, source_id, None)
            return False
        if grant.status != CONNECTED:
            return False
        # The earliest its schedule could say (the margin and all the jitter): later than
        # due_by, it was refreshed since it was found due, and its next time is scheduled.
        earliest = settings.jira_oauth_refresh_before_seconds + REFRESH_JITTER_SECONDS
        if due_by is not None and grant.expires_at - timedelta(seconds=earliest) > due_by:
            return False
        tokens = json.loads(service.open_sealed(ingest.box, grant.tokens_sealed, source))
        try:
            fresh = await _oauth(state).refresh(str(tokens["refresh_token"]))
        except atlassian.TokenRefused as exc:
            await _needs_reconnect(state, session, source, grant, str(exc))
            return False
        except atlassian.ServerFailed as exc:
            retry_at = _now() + timedelta(seconds=random.uniform(30, 90))
            await repository.schedule_refresh(session, tenant_id, source_id, retry_at)
            log.warning("jira_oauth.refresh_failed", source_id=str(source_id), error=str(exc))
            return False
        now = _now()
        expires_at = now + timedelta(seconds=fresh.expires_in)
        # The new access token and the rotated refresh token, in one update: a replica
        # that died here leaves the old pair, never half of the new one.
        await repository.update_oauth_grant(
            session,
            source_id,
            tokens_sealed=_seal(ingest, fresh, source_id),
            scopes=fresh.scope or grant.scopes,
            expires_at=expires_at,
            refreshed_at=now,
        )
        await repository.schedule_refresh(
            session, tenant_id, source_id, _refresh_at(settings, expires_at)
        )
    log.info("jira_oauth.refreshed", source_id=str(source_id))
    return True


async def _needs_reconnect(
    state: ServiceState, session: Any, source: SourceRow, grant: OAuthGrantRow, why: str
) -> None:
    """Revoked: no more refreshes, and the tenant's admins told — once, as the grant
    leaves ``connected`` only once (a later grant revoked again is told again)."""
    await repository.update_oauth_grant(session, source.id, status=NEEDS_RECONNECT, error=why[:500])
    await repository.schedule_refresh(session, source.tenant_id, source.id, None)
    warning = notice(
        state.outbox,
        source,
        "error",
        f"Jira source '{source.name}' needs reconnecting",
        f"Atlassian refused to refresh its OAuth 2.0 access ({why}): the app's access was "
        "revoked or removed. Webhooks still arrive; backfills stop until an admin connects "
        f"it again (POST /v1/sources/{source.id}/oauth/jira/start).",
    )
    await state.outbox.add_all(session, [warning])
    log.warning("jira_oauth.needs_reconnect", source_id=str(source.id), error=why)


async def start_refresher(state: ServiceState) -> None:
    """Every replica runs one; the row locks keep two from refreshing one grant."""
    interval = service.ingest_of(state).settings.jira_oauth_refresh_interval_seconds

    async def loop() -> None:
        while True:
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))
            try:
                await refresh_due(state)
            except Exception as exc:  # the database is away: the next look tries again
                log.warning("jira_oauth.refresher_failed", error=str(exc))

    state.extras["jira_oauth_refresher"] = asyncio.create_task(loop(), name="jira-oauth-refresh")


async def stop_refresher(state: ServiceState) -> None:
    await cancel_and_wait(state.extras.get("jira_oauth_refresher"))


def _now() -> datetime:
    return datetime.now(UTC)
