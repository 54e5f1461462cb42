"""Both object stores keep bytes intact, verify checksums and refuse unsafe keys."""

import secrets

import boto3
import pytest

from sextant.runtime.objectstore import (
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
