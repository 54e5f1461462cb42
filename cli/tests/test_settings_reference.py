"""docs/settings.md is the settings classes, rendered: every setting of every service
with its variable, default and meaning. Regenerate it with
`sextant settings --output docs/settings.md`."""

from pathlib import Path

import pytest
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sextant.cli.services import SERVICE_NAMES
from sextant.cli.settings_reference import MissingDescription, render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


class Demo(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_DEMO_")

    batch: int = Field(default=1500, ge=1, le=10_000, description="rows a | pass")
    url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_DEMO_URL", "DEMO_URL"),
        description="where it is",
    )


class Undescribed(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEXTANT_DEMO_")

    pace: float = 2.5
    named: str = Field(default="x", description="has one")


def test_the_committed_page_is_what_the_settings_classes_render() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/settings.md is stale: run `sextant settings --output docs/settings.md`"
    )


def test_the_page_has_a_section_for_every_service_and_the_shared_settings() -> None:
    page = PAGE.read_text(encoding="utf-8")
    for name in SERVICE_NAMES:
        assert f"\n## {name}\n" in page
    assert "| `SEXTANT_KAFKA_PARTITIONS` | integer, ≥ 1 | unset |" in page
    assert "| `SEXTANT_GATEWAY_REPLICAS` | integer, ≥ 1 | 1 |" in page


def test_a_setting_renders_its_variables_type_bounds_default_and_meaning() -> None:
    page = render([("demo", Demo)])
    assert "| `SEXTANT_DEMO_BATCH` | integer, ≥ 1, ≤ 10,000 | 1,500 | rows a \\| pass |" in page
    assert "| `SEXTANT_DEMO_URL` or `DEMO_URL` | text | unset | where it is |" in page


def test_a_setting_without_a_description_fails_the_page_naming_its_variable() -> None:
    with pytest.raises(MissingDescription, match=r"without a description: SEXTANT_DEMO_PACE$"):
        render([("demo", Undescribed)])
