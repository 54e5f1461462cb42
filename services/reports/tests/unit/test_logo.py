"""A cover logo is taken by its bytes: PNG or JPEG, small, decodable whole."""

from __future__ import annotations

import io
from dataclasses import replace

import pypdf
import pytest
from PIL import Image

from sextant.reports.domain.kinds import ReportModel, Section
from sextant.reports.domain.logo import logo_media_type
from sextant.reports.domain.pdf import Cover, render_pdf
from sextant.runtime.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

LIMIT = 64 * 1024


def image(fmt: str, size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_png_and_a_jpeg_are_told_by_their_bytes() -> None:
    assert logo_media_type(image("PNG"), LIMIT) == "image/png"
    assert logo_media_type(image("JPEG"), LIMIT) == "image/jpeg"


def test_another_format_is_refused_as_unsupported_whatever_it_claims() -> None:
    with pytest.raises(UnsupportedMediaType, match="PNG or a JPEG"):
        logo_media_type(image("GIF"), LIMIT)
    with pytest.raises(UnsupportedMediaType):
        logo_media_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>", LIMIT)


def test_a_truncated_png_is_refused_as_damaged() -> None:
    whole = image("PNG", (300, 300))
    with pytest.raises(InvalidInput, match="not a readable PNG"):
        logo_media_type(whole[: len(whole) // 2], LIMIT)


def test_a_logo_over_the_size_or_the_side_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge, match="at most 1024"):
        logo_media_type(image("PNG") + b"\0" * 1024, 1024)
    with pytest.raises(InvalidInput, match="4097x1 pixels"):
        logo_media_type(image("PNG", (4097, 1)), LIMIT)


def test_the_logo_is_drawn_on_the_cover() -> None:
    model = ReportModel("T", "D", [Section("S", ["a"], [["x"]])])
    cover = Cover("Acme", "workspace:1", "2026-03-02 to 2026-03-08 (UTC)", "alice")
    plain = pypdf.PdfReader(io.BytesIO(render_pdf(model, cover)))
    branded = pypdf.PdfReader(io.BytesIO(render_pdf(model, replace(cover, logo=image("PNG")))))
    assert len(plain.pages[0].images) == 0
    assert [i.image.size for i in branded.pages[0].images] == [(40, 20)]  # type: ignore[union-attr]
    assert "Tenant: Acme" in branded.pages[0].extract_text()
