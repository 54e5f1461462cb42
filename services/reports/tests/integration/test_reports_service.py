"""The reports service keeps the runtime contract on real PostgreSQL and the local bus."""

from sextant.reports.main import SPEC
from sextant.runtime.testing import checks
from sextant.runtime.testing.plugin import InternalKeys


async def test_health_readiness_and_metrics_answer(
    database_url: str, internal_keys: InternalKeys
) -> None:
    await checks.check_health_readiness_metrics(SPEC, database_url, internal_keys)


async def test_schema_matches_models_and_app_role_owns_nothing(
    database_url: str, internal_keys: InternalKeys
) -> None:
    await checks.check_schema_matches_models_and_app_role_owns_nothing(
        SPEC, database_url, internal_keys
    )


async def test_routes_require_a_valid_internal_token_for_this_service(
    database_url: str, internal_keys: InternalKeys
) -> None:
    await checks.check_routes_require_the_internal_token(SPEC, database_url, internal_keys)


async def test_every_route_but_health_refuses_an_anonymous_caller(
    database_url: str, internal_keys: InternalKeys
) -> None:
    await checks.check_every_route_requires_the_internal_token(SPEC, database_url, internal_keys)
