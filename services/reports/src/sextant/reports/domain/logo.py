"""A tenant's logo for the PDF cover: PNG or JPEG, told by its bytes (never by what the
upload claims), small, and an image Pillow can decode whole, so a bad upload is refused
at once rather than failing every report later."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from sextant.runtime.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

MAX_SIDE = 4096  # pixels: a cover logo never needs more; bigger is a decompression bomb
SIGNATURES = {b"\x89PNG\r\n\x1a\n": ("PNG", "image/png"), b"\xff\xd8\xff": ("JPEG", "image/jpeg")}


def logo_media_type(data: bytes, max_bytes: int) -> str:
    """``image/png`` or ``image/jpeg`` for an acceptable logo; else 413 (too large), 415
    (neither PNG nor JPEG by its first bytes) or 400 (damaged, or over MAX_SIDE a side)."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"the logo is {len(data)} bytes; at most {max_bytes} are taken")
    kind = next((k for sig, k in SIGNATURES.items() if data.startswith(sig)), None)
    if kind is None:
        raise UnsupportedMediaType("the logo must be a PNG or a JPEG image (told by its bytes)")
    pil_format, media_type = kind
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise InvalidInput(
                        f"the logo is {width}x{height} pixels; at most {MAX_SIDE} a side",
                        parameter="body",
                    )
                image.load()  # decodes every pixel: a truncated file fails here
    except InvalidInput:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as exc:
        raise InvalidInput(
            f"the logo is not a readable {pil_format} image: {exc}", parameter="body"
        ) from None
    return media_type
