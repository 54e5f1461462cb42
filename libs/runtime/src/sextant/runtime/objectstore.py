"""Object storage behind one interface: S3 (aioboto3) or a local folder.

Every put records a SHA-256 of the bytes; S3 checks it on arrival (``ChecksumSHA256``), the
folder backend keeps it beside the object, and :meth:`ObjectStore.get` verifies it, so a
corrupted cold copy is never taken for a good one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sextant.runtime.extras import s3_missing


class ObjectNotFound(KeyError):
    pass


class ChecksumMismatch(ValueError):
    pass


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str  # hex


class ObjectStore(Protocol):
    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        retain_until: datetime | None = None,
    ) -> StoredObject: ...
    async def get(self, key: str) -> bytes: ...
    async def head(self, key: str) -> StoredObject: ...
    async def delete(self, key: str) -> None: ...
    async def list(self, prefix: str = "") -> list[str]: ...
    async def ping(self) -> bool: ...


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key: {key!r}")
    return key


class FolderObjectStore:
    """Objects as files under a root folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _path(self, key: str) -> Path:
        return self._root / _safe_key(key)

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        retain_until: datetime | None = None,  # a folder has no Object Lock: not kept
    ) -> StoredObject:
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            path.with_name(path.name + ".sha256").write_text(digest)

        await asyncio.to_thread(write)
        return StoredObject(key=key, size=len(data), sha256=digest)

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        data = await asyncio.to_thread(path.read_bytes)
        expected = path.with_name(path.name + ".sha256").read_text().strip()
        if hashlib.sha256(data).hexdigest() != expected:
            raise ChecksumMismatch(f"object {key!r} does not match its checksum")
        return data

    async def head(self, key: str) -> StoredObject:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        digest = path.with_name(path.name + ".sha256").read_text().strip()
        return StoredObject(key=key, size=path.stat().st_size, sha256=digest)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        for p in (path, path.with_name(path.name + ".sha256")):
            p.unlink(missing_ok=True)

    async def list(self, prefix: str = "") -> list[str]:
        if not self._root.exists():
            return []
        keys = [
            str(p.relative_to(self._root))
            for p in self._root.rglob("*")
            if p.is_file() and not p.name.endswith(".sha256") and not p.name.startswith(".")
        ]
        return sorted(k for k in keys if k.startswith(prefix))

    async def ping(self) -> bool:
        return True


MIB = 1024 * 1024


class S3ObjectStore:
    """Objects in an S3 bucket (AWS, MinIO, moto) with SHA-256 checksums on put.

    An object over ``multipart_threshold`` bytes goes up in parts of ``part_size`` (each
    with its own SHA-256; an upload that fails is aborted, so no part lingers). When the
    bucket has Object Lock enabled, a put with ``retain_until`` locks the object's version
    until then (``lock_mode``, GOVERNANCE by default); a delete then removes every version
    of the key, which the bucket refuses for a version still locked."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str = "us-east-1",
        multipart_threshold: int = 16 * MIB,
        part_size: int = 8 * MIB,
        lock_mode: str = "GOVERNANCE",
    ) -> None:
        if part_size < 5 * MIB:
            raise ValueError("S3 parts (but the last) are at least 5 MiB")
        try:
            import aioboto3
        except ImportError as exc:
            raise s3_missing() from exc

        self._bucket = bucket
        self._endpoint = endpoint_url
        self._region = region
        self._session = aioboto3.Session()
        self._multipart_threshold = multipart_threshold
        self._part_size = part_size
        self._lock_mode = lock_mode
        self._locking: bool | None = None  # whether the bucket has Object Lock, once asked

    async def object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (asked once)."""
        if self._locking is None:
            async with self._client() as s3:
                try:
                    found = await s3.get_object_lock_configuration(Bucket=self._bucket)
                except s3.exceptions.ClientError:
                    self._locking = False
                else:
                    enabled = found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
                    self._locking = enabled == "Enabled"
        return self._locking

    def _client(self) -> Any:
        return self._session.client("s3", endpoint_url=self._endpoint, region_name=self._region)

    async def ensure_bucket(self) -> None:
        async with self._client() as s3:
            try:
                await s3.head_bucket(Bucket=self._bucket)
            except Exception:
                await s3.create_bucket(Bucket=self._bucket)

    async def put(
        self,
        key: str,
        data: bytes,
        content_type: str = "application/octet-stream",
        *,
        retain_until: datetime | None = None,
    ) -> StoredObject:
        digest = hashlib.sha256(data).digest()
        common: dict[str, Any] = {
            "Bucket": self._bucket,
            "Key": _safe_key(key),
            "ContentType": content_type,
            "Metadata": {"sha256": digest.hex()},
        }
        if retain_until is not None and await self.object_lock():
            common |= {"ObjectLockMode": self._lock_mode, "ObjectLockRetainUntilDate": retain_until}
        async with self._client() as s3:
            if len(data) > self._multipart_threshold:
                await self._put_in_parts(s3, common, data)
            else:
                await s3.put_object(
                    **common,
                    Body=data,
                    ChecksumAlgorithm="SHA256",  # a locked put must name it
                    ChecksumSHA256=base64.b64encode(digest).decode(),
                )
        return StoredObject(key=key, size=len(data), sha256=digest.hex())

    async def _put_in_parts(self, s3: Any, common: dict[str, Any], data: bytes) -> None:
        """A multipart upload: each part checked by its own SHA-256; aborted on failure."""
        started = await s3.create_multipart_upload(**common, ChecksumAlgorithm="SHA256")
        upload = {"Bucket": common["Bucket"], "Key": common["Key"], "UploadId": started["UploadId"]}
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self._part_size), start=1):
                chunk = data[start : start + self._part_size]
                checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
                sent = await s3.upload_part(
                    **upload, PartNumber=number, Body=chunk, ChecksumSHA256=checksum
                )
                parts.append(
                    {"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": checksum}
                )
            await s3.complete_multipart_upload(**upload, MultipartUpload={"Parts": parts})
        except BaseException:
            await s3.abort_multipart_upload(**upload)
            raise

    async def get(self, key: str) -> bytes:
        async with self._client() as s3:
            try:
                response = await s3.get_object(Bucket=self._bucket, Key=_safe_key(key))
            except s3.exceptions.NoSuchKey as exc:
                raise ObjectNotFound(key) from exc
            data: bytes = await response["Body"].read()
            expected = response.get("Metadata", {}).get("sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ChecksumMismatch(f"object {key!r} does not match its checksum")
        return data

    async def head(self, key: str) -> StoredObject:
        async with self._client() as s3:
            try:
                response = await s3.head_object(Bucket=self._bucket, Key=_safe_key(key))
            except Exception as exc:
                raise ObjectNotFound(key) from exc
        return StoredObject(
            key=key,
            size=int(response["ContentLength"]),
            sha256=response.get("Metadata", {}).get("sha256", ""),
        )

    async def delete(self, key: str) -> None:
        """Delete the object; in a bucket with Object Lock (versioned), every version of
        it, which the bucket refuses for a version whose retention has not passed."""
        safe = _safe_key(key)
        async with self._client() as s3:
            if not await self.object_lock():
                await s3.delete_object(Bucket=self._bucket, Key=safe)
                return
            listed = await s3.list_object_versions(Bucket=self._bucket, Prefix=safe)
            for version in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
                if version["Key"] == safe:
                    await s3.delete_object(
                        Bucket=self._bucket, Key=safe, VersionId=version["VersionId"]
                    )

    async def list(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        async with self._client() as s3:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    async def ping(self) -> bool:
        try:
            async with self._client() as s3:
                await s3.head_bucket(Bucket=self._bucket)
            return True
        except Exception:
            return False
