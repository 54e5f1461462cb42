"""The public API's OpenAPI document, as the gateway merges it, is one a client generator
and a newcomer can use: every operation and parameter described, examples on bodies,
every error documented as problem+json (unknown paths and methods too, which answer
it), and an API explorer at /docs that loads nothing from outside the gateway.

Each failure names the route and the missing piece, so a route added later is held to
the same standard by these tests."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import httpx
import pytest
from jsonschema import Draft202012Validator

from sextant.cli.testing import running_platform
from sextant.runtime.testing.plugin import InternalKeys

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
async def document(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> dict[str, Any]:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        reply = await platform.client.get("/openapi.json")
        assert reply.status_code == 200, reply.text
        merged: dict[str, Any] = reply.json()
        return merged


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every operation, named as a reader would look for it ("POST /v1/tenants")."""
    return [
        (f"{method.upper()} {path}", item[method])
        for path, item in document["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        found: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return found
    return schema


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    """An example on the media type, or on its schema; a list's or a page's on its items."""
    if "example" in media or "examples" in media:
        return True
    schema = resolved(document, media.get("schema", {}))
    if schema.get("examples") or "example" in schema:
        return True
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []):
        if variant.get("type") != "null" and has_example(document, {"schema": variant}):
            return True
    if schema.get("type") == "array":
        return has_example(document, {"schema": schema.get("items", {})})
    items = schema.get("properties", {}).get("items")
    return isinstance(items, dict) and has_example(document, {"schema": items})


def missing_pieces(document: dict[str, Any]) -> list[str]:
    """What a client generator or a reader of the document lacks, route by route."""
    missing = []
    for name, operation in operations(document):
        for piece in ("summary", "description", "operationId"):
            if not str(operation.get(piece, "")).strip():
                missing.append(f"{name}: no {piece}")
        for parameter in operation.get("parameters", []):
            if not str(parameter.get("description", "")).strip():
                missing.append(f"{name}: parameter {parameter['name']!r} has no description")
        body = operation.get("requestBody")
        if body is not None:
            for media_type, media in body.get("content", {}).items():
                if media_type.endswith("json") and not has_example(document, media):
                    missing.append(f"{name}: no example of its {media_type} request body")
        responses = operation.get("responses", {})
        # a success is a 2xx, or the redirect a browser's sign-in answers (303 to the portal)
        if not any(status.startswith(("2", "303")) for status in responses):
            missing.append(f"{name}: no success reply documented")
        for status, response in responses.items():
            content = response.get("content", {})
            if status.startswith("2"):
                for media_type, media in content.items():
                    if media_type == "application/json" and not has_example(document, media):
                        missing.append(f"{name}: no example of its {status} reply")
            elif status.startswith(("4", "5")):
                shapes = {
                    media_type: media.get("schema", {}).get("$ref")
                    for media_type, media in content.items()
                }
                if shapes != {"application/problem+json": PROBLEM_REF}:
                    missing.append(f"{name}: its {status} is not the Problem schema ({shapes})")
    return missing


def wrong_examples(document: dict[str, Any]) -> list[str]:
    """Each example that its own schema refuses (an example must be a real body)."""
    wrong = []
    components = document["components"]
    for name, schema in components["schemas"].items():
        checker = Draft202012Validator({**schema, "components": components})
        for i, example in enumerate(schema.get("examples", [])):
            for error in checker.iter_errors(example):
                wrong.append(f"schema {name}: example {i} at {list(error.path)}: {error.message}")
    for route, operation in operations(document):
        bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
        for body in bodies:
            for media in body.get("content", {}).values():
                if "example" in media:
                    checker = Draft202012Validator(
                        {**media.get("schema", {}), "components": components}
                    )
                    for error in checker.iter_errors(media["example"]):
                        wrong.append(f"{route}: example at {list(error.path)}: {error.message}")
    return wrong


async def test_every_operation_parameter_body_and_error_of_the_merged_document_is_described(
    document: dict[str, Any],
) -> None:
    assert len(operations(document)) >= 60  # every service's part was merged in
    missing = missing_pieces(document)
    assert missing == [], "\n".join(missing)
    wrong = wrong_examples(document)
    assert wrong == [], "\n".join(wrong)
    ids = Counter(operation["operationId"] for _, operation in operations(document))
    assert [name for name, count in ids.items() if count > 1] == []
    assert document["paths"]["/v1/tenants"]["post"]["operationId"] == "create_tenant"
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
        "detail",
    }


async def test_errors_are_only_those_a_route_can_answer(document: dict[str, Any]) -> None:
    """Worked examples: a public read of the gateway's own answers none of the caller's
    errors; a read without a body cannot be too large; only a creation that can collide
    documents a conflict; every authenticated route can be refused its token or role."""
    paths = document["paths"]
    assert sorted(paths["/v1/events/asyncapi.json"]["get"]["responses"]) == ["200"]
    tenants = paths["/v1/tenants"]
    assert "413" not in tenants["get"]["responses"]
    assert "413" in tenants["post"]["responses"]
    assert "409" not in paths["/v1/developers"]["get"]["responses"]
    assert "409" in paths["/v1/teams"]["post"]["responses"]
    for name, operation in operations(document):
        if operation.get("security"):
            assert {"401", "403", "429", "503"} <= set(operation["responses"]), name


async def test_unknown_paths_and_methods_answer_problem_json_as_the_document_says(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        client = platform.client
        description = (await client.get("/openapi.json")).json()["info"]["description"]
        assert "404" in description and "405" in description and "problem+json" in description
        # an extensionless path outside the API is a portal page (its index.html)
        outside = await client.get("/no-such-file.txt")
        under_v1 = await client.get("/v1/no-such-thing", headers=platform.admin)
        gateway_method = await client.put("/v1/tenants", headers=platform.admin)
        tenant_admin = platform.headers("tenant_admin", await platform.tenant("Acme"))
        service_method = await client.delete(
            "/v1/forecasts/when", params={"items": 3}, headers=tenant_admin
        )
        document_method = await client.post("/openapi.json")
        for reply, status in (
            (outside, 404),
            (under_v1, 404),
            (gateway_method, 405),
            (service_method, 405),
            (document_method, 405),
        ):
            assert reply.status_code == status, (reply.request.url, reply.text)
            assert reply.headers["content-type"] == "application/problem+json", reply.text
            body = reply.json()
            assert body["status"] == status and body["title"] and body["detail"], body
        assert set(gateway_method.headers["allow"].split(", ")) == {"GET", "POST"}
        assert service_method.headers["allow"] == "GET"
        assert document_method.headers["allow"] == "GET"


async def test_the_api_explorer_at_docs_loads_only_what_the_gateway_serves(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        client = platform.client
        page = await client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "SwaggerUIBundle" in page.text
        referenced = re.findall(r"""(?:src|href|url)\s*[=:]\s*["']([^"']+)["']""", page.text)
        assert sorted(referenced) == [
            "/docs/assets/favicon.png",
            "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css",
            "/openapi.json",
        ]
        assert '"validatorUrl": null' in page.text  # no badge fetched from swagger.io
        for url in referenced:
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000, url
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.headers["content-type"].startswith("text/javascript")
        outside = await client.get("/docs/assets/..%2F..%2Fcore.py")
        assert outside.status_code == 404
        assert outside.headers["content-type"] == "application/problem+json"


CLIENT_CONFIG = (
    "post_hooks: []\nproject_name_override: sextant_client\npackage_name_override: sextant_client\n"
)


def generated_client(document: dict[str, Any], folder: Path) -> ModuleType:
    """openapi-python-client's package for ``document`` (generated offline, from the file),
    imported; the generator must not warn about any part of the document."""
    (folder / "openapi.json").write_text(json.dumps(document))
    (folder / "config.yaml").write_text(CLIENT_CONFIG)
    generated = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--output-path",
            str(folder / "sextant_client"),
            "--meta",
            "none",
            "--config",
            str(folder / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout + generated.stderr, generated.stdout
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("sextant_client")
    finally:
        sys.path.remove(str(folder))


async def test_a_client_generated_from_the_document_walks_a_newcomer_through(
    database_url: str, internal_keys: InternalKeys, tmp_path: Path
) -> None:
    """Platform admin creates a tenant; its admin creates a workspace and a source and
    lists developers; a refusal comes back as the generated Problem model."""
    async with running_platform(database_url, internal_keys, tmp_path) as platform:
        document = (await platform.client.get("/openapi.json")).json()
        generated_client(document, tmp_path)
        from sextant_client import AuthenticatedClient  # type: ignore[import-not-found]
        from sextant_client.api.identity import list_developers  # type: ignore[import-not-found]
        from sextant_client.api.sources import create_source  # type: ignore[import-not-found]
        from sextant_client.api.tenancy import (  # type: ignore[import-not-found]
            create_tenant,
            create_workspace,
        )
        from sextant_client.models import (  # type: ignore[import-not-found]
            CreatedSourceReply,
            DeveloperList,
            NameBody,
            Problem,
            SourceCreate,
            SourceCreateKind,
            TenantReply,
            WorkspaceReply,
        )

        def as_(role: str, tenant: UUID | None = None) -> Any:
            token = platform.issuer.mint(
                subject=f"{role}@walkthrough", role=role, tenant_id=tenant, ttl_seconds=600
            )
            return AuthenticatedClient(
                base_url="http://gateway",
                token=token,
                httpx_args={"transport": httpx.ASGITransport(app=platform.gateway)},
            )

        tenant = await create_tenant.asyncio(client=as_("platform_admin"), body=NameBody("Acme"))
        assert isinstance(tenant, TenantReply) and tenant.name == "Acme"
        admin = as_("tenant_admin", tenant.id)
        refused = await create_tenant.asyncio(client=admin, body=NameBody("Mine"))
        assert isinstance(refused, Problem) and refused.status == 403 and refused.detail
        workspace = await create_workspace.asyncio(client=admin, body=NameBody("web"))
        assert isinstance(workspace, WorkspaceReply) and workspace.name == "web"
        source = await create_source.asyncio(
            workspace.id, client=admin, body=SourceCreate(SourceCreateKind.GITHUB, "acme/web")
        )
        assert isinstance(source, CreatedSourceReply), source
        assert source.workspace_id == workspace.id and source.secret
        assert str(source.id) in source.webhook_url
        developers = await list_developers.asyncio(client=admin)
        assert isinstance(developers, DeveloperList) and developers.items == []
