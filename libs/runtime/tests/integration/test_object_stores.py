"""Both object stores keep bytes intact, verify checksums and refuse unsafe keys."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from sextant.runtime.objectstore import (
    MIB,
    ChecksumMismatch,
    FolderObjectStore,
    ObjectNotFound,
    S3ObjectStore,
)
from sextant.runtime.testing.servers import ACCESS_KEY, REGION, SECRET_KEY


@pytest.fixture(params=["folder", "s3"])
async def store(request, tmp_path):
    if request.param == "folder":
        return FolderObjectStore(tmp_path / "objects")
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = S3ObjectStore(f"objects-{secrets.token_hex(4)}", endpoint_url=endpoint)
    await s3.ensure_bucket()
    return s3


async def test_put_get_head_list_delete_round_trip(store):
    data = secrets.token_bytes(4096)
    stored = await store.put("tenant/2026/archive.parquet", data)
    assert await store.get("tenant/2026/archive.parquet") == data
    head = await store.head("tenant/2026/archive.parquet")
    assert (head.size, head.sha256) == (4096, stored.sha256)
    await store.put("tenant/other.csv", b"a,b")
    assert await store.list("tenant/2026/") == ["tenant/2026/archive.parquet"]
    await store.delete("tenant/2026/archive.parquet")
    with pytest.raises(ObjectNotFound):
        await store.get("tenant/2026/archive.parquet")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
async def test_unsafe_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        await store.put(key, b"x")


async def test_folder_store_detects_a_corrupted_object(tmp_path):
    store = FolderObjectStore(tmp_path)
    await store.put("k", b"original")
    (tmp_path / "k").write_bytes(b"tampered")
    with pytest.raises(ChecksumMismatch):
        await store.get("k")


async def test_s3_store_detects_a_corrupted_object(s3_endpoint):
    bucket = f"objects-{secrets.token_hex(4)}"
    store = S3ObjectStore(bucket, endpoint_url=s3_endpoint)
    await store.ensure_bucket()
    stored = await store.put("k", b"original")
    raw = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    raw.put_object(Bucket=bucket, Key="k", Body=b"tampered", Metadata={"sha256": stored.sha256})
    with pytest.raises(ChecksumMismatch):
        await store.get("k")


def raw_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


async def test_a_large_object_goes_up_in_parts_each_checked(s3_endpoint):
    bucket = f"objects-{secrets.token_hex(4)}"
    store = S3ObjectStore(
        bucket, endpoint_url=s3_endpoint, multipart_threshold=5 * MIB, part_size=5 * MIB
    )
    await store.ensure_bucket()
    data = secrets.token_bytes(5 * MIB + 1024)  # a part of 5 MiB and one of 1 KiB
    stored = await store.put("big.parquet", data)
    assert await store.get("big.parquet") == data
    assert (await store.head("big.parquet")).sha256 == stored.sha256
    etag = raw_client(s3_endpoint).head_object(Bucket=bucket, Key="big.parquet")["ETag"]
    assert etag.strip('"').endswith("-2")  # S3's mark of a two-part upload
    small = await store.put("small.parquet", b"x" * 1024)  # under the threshold: one put
    assert (
        raw_client(s3_endpoint).head_object(Bucket=bucket, Key="small.parquet")["ETag"].strip('"')
        == hashlib.md5(b"x" * 1024).hexdigest()
    )  # S3's own ETag of a single put
    assert small.size == 1024
    with pytest.raises(ValueError, match="5 MiB"):
        S3ObjectStore(bucket, endpoint_url=s3_endpoint, part_size=MIB)


async def test_object_lock_keeps_an_object_until_its_retention_passes(s3_endpoint):
    bucket = f"locked-{secrets.token_hex(4)}"
    raw_client(s3_endpoint).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    store = S3ObjectStore(bucket, endpoint_url=s3_endpoint)
    assert await store.object_lock()
    until = datetime.now(UTC) + timedelta(days=1)
    await store.put("held.parquet", b"cold copy", retain_until=until)
    head = raw_client(s3_endpoint).head_object(Bucket=bucket, Key="held.parquet")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - until).total_seconds()) < 1
    with pytest.raises(Exception, match=r"AccessDenied|locked|retention|protected"):
        await store.delete("held.parquet")
    assert await store.get("held.parquet") == b"cold copy"  # still there, still intact
    await store.put("free.parquet", b"no retention")
    await store.delete("free.parquet")  # every version of it
    with pytest.raises(ObjectNotFound):
        await store.get("free.parquet")
    plain = S3ObjectStore(f"plain-{secrets.token_hex(4)}", endpoint_url=s3_endpoint)
    await plain.ensure_bucket()
    assert not await plain.object_lock()
    await plain.put("k", b"v", retain_until=until)  # no Object Lock: kept as a plain put
    await plain.delete("k")
