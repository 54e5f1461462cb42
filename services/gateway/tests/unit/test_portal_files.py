"""Which file of the built portal answers a path, and with what caching: the portal never
answers for the platform's own paths, never leaves its folder, and sends the app's page
for its client-side routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sextant.gateway.api.portal import IMMUTABLE, REVALIDATE, portal_file


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Sextant</title>")
    (root / "assets" / "index-3f9a1c.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


def test_hashed_assets_are_cached_for_a_year_and_other_files_revalidated(dist: Path) -> None:
    assert portal_file(dist, "assets/index-3f9a1c.js") == (
        (dist / "assets/index-3f9a1c.js").resolve(),
        "public, max-age=31536000, immutable",
    )
    assert portal_file(dist, "favicon.svg") == ((dist / "favicon.svg").resolve(), "no-cache")
    assert (IMMUTABLE, REVALIDATE) == ("public, max-age=31536000, immutable", "no-cache")


@pytest.mark.parametrize("path", ["", "forecasts", "workspaces/0193a0c4/sources", "developers"])
def test_the_apps_own_routes_get_its_page(dist: Path, path: str) -> None:
    assert portal_file(dist, path) == ((dist / "index.html").resolve(), "no-cache")


@pytest.mark.parametrize(
    "path",
    [
        "v1/nothing-here",
        "v1",
        "internal/replay",
        "docs",
        "openapi.json",
        "healthz",
        "readyz",
        "metrics",
        "webhooks/github",
    ],
)
def test_the_platforms_paths_are_never_the_portals(dist: Path, path: str) -> None:
    assert portal_file(dist, path) is None


@pytest.mark.parametrize(
    "path", ["../secret.txt", "assets/../../secret.txt", "assets/missing-1a2b.js", "robots.txt"]
)
def test_a_file_outside_the_build_or_missing_is_not_found(dist: Path, path: str) -> None:
    assert portal_file(dist, path) is None


def test_a_symlink_out_of_the_build_is_not_followed(dist: Path) -> None:
    (dist / "leak.txt").symlink_to(dist.parent / "secret.txt")
    assert portal_file(dist, "leak.txt") is None


def test_nothing_is_served_before_the_portal_is_built(tmp_path: Path) -> None:
    assert portal_file(tmp_path / "never-built", "") is None
    assert portal_file(tmp_path / "never-built", "forecasts") is None
