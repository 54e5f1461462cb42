"""The tenant's logo on its report covers (behind the gateway's internal token): upload
(PNG or JPEG, sniffed and size-limited), read, remove. Setting and removing it are
audited (ConfigChanged)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from sextant.reports.domain.logo import logo_media_type
from sextant.reports.render import logo_key
from sextant.reports.settings import ReportsSettings
from sextant.runtime.app import State
from sextant.runtime.audit import config_change, record_change
from sextant.runtime.errors import (
    NotFound,
    PayloadTooLarge,
    Unavailable,
    problem_response,
)
from sextant.runtime.objectstore import ObjectNotFound
from sextant.runtime.tokens import InternalClaims, caller_with_role

router = APIRouter(prefix="/v1", tags=["reports"])

Reader = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin", "manager", "member"))]
Admin = Annotated[InternalClaims, Depends(caller_with_role("tenant_admin"))]
IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the image's bytes as the body (not a form), PNG or JPEG, whatever "
        "the Content-Type says",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
IMAGE_REPLY: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the logo's bytes, PNG or JPEG as uploaded",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
NO_STORE = problem_response("no object store is configured for reports")
NO_LOGO = problem_response("the tenant has no logo")


PER_TENANT = "a logo is per tenant"  # why a call needs a tenant, in its 400


def _objects(state: Any) -> Any:
    if state.objects is None:
        raise Unavailable("no object store is configured for reports")
    return state.objects


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it grows past ``limit``."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(f"the logo is over {limit} bytes, the most taken")
    return bytes(data)


async def _audit(state: Any, caller: InternalClaims, action: str, before: Any, after: Any) -> None:
    tenant = caller.tenant(PER_TENANT)
    async with state.db.transaction(tenant) as session:
        await record_change(
            session,
            state.outbox,
            tenant,
            config_change(caller.sub, action, ("report_logo", tenant), before=before, after=after),
        )


@router.put(
    "/report-logo",
    status_code=204,
    summary="Set the logo printed on the tenant's report covers",
    description="The body is the image itself, PNG or JPEG (told by its bytes, whatever the "
    "Content-Type says), at most SEXTANT_REPORTS_LOGO_MAX_BYTES and 4096 pixels a side. "
    "Replaces the previous one; audited. Tenant admins only.",
    openapi_extra=IMAGE_BODY,
    responses={
        400: problem_response("a damaged image, or one over 4096 pixels a side"),
        403: problem_response("only a tenant admin sets the logo"),
        413: problem_response("the image is over the size limit"),
        415: problem_response("the body is neither a PNG nor a JPEG"),
        503: NO_STORE,
    },
)
async def put_logo(request: Request, caller: Admin, state: State) -> Response:
    limit = ReportsSettings().logo_max_bytes
    data = await _body(request, limit)
    media_type = logo_media_type(data, limit)
    tenant = caller.tenant(PER_TENANT)
    await _objects(state).put(logo_key(tenant), data, media_type)
    after = {
        "media_type": media_type,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    await _audit(state, caller, "reports.logo.set", None, after)
    return Response(status_code=204)


@router.get(
    "/report-logo",
    summary="The logo printed on the tenant's report covers",
    description="The image's bytes as they were uploaded (PNG or JPEG); 404 while the "
    "tenant has none.",
    response_class=Response,
    responses={
        **IMAGE_REPLY,
        403: problem_response("the caller's role may not read reports"),
        404: NO_LOGO,
        503: NO_STORE,
    },
)
async def get_logo(caller: Reader, state: State) -> Response:
    try:
        data = await _objects(state).get(logo_key(caller.tenant(PER_TENANT)))
    except ObjectNotFound:
        raise NotFound("the tenant has no report logo") from None
    # documented as bytes: the API clients generated from the document take no image types
    return Response(data, media_type="application/octet-stream")


@router.delete(
    "/report-logo",
    status_code=204,
    summary="Remove the tenant's report logo",
    description="Covers go without a logo from the next report on; audited. Tenant admins only.",
    responses={
        403: problem_response("only a tenant admin removes the logo"),
        404: NO_LOGO,
        503: NO_STORE,
    },
)
async def delete_logo(caller: Admin, state: State) -> Response:
    objects, key = _objects(state), logo_key(caller.tenant(PER_TENANT))
    try:
        await objects.head(key)
    except ObjectNotFound:
        raise NotFound("the tenant has no report logo") from None
    await objects.delete(key)
    await _audit(state, caller, "reports.logo.delete", {"key": key}, None)
    return Response(status_code=204)
