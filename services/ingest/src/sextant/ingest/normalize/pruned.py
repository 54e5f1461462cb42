"""Parse only what a normalizer reads, for the heaviest deliveries.

A GitHub ``pull_request`` delivery is some 28 KB, mostly three copies of a repository's
ninety-odd URLs, the pull request's text and its links; the normalizer reads about twenty
fields. Building Python objects for all of it was the largest single cost of accepting
a webhook (orjson: 27 µs for the corpus payload). msgspec decoding into structs of just
those fields skips the rest, while still checking that the whole body is JSON (12 µs).

:func:`parse` returns the same plain dict the normalizers always get, holding only the
fields the structs list, so each struct must list every field its normalizer reads; a
test normalizes every corpus payload both ways and requires the same events. A body the
structs cannot hold (an object where a scalar or list should be, or the reverse) is parsed in
full instead, so what the normalizer then says about it is what it always said.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson


class _Fields(msgspec.Struct, omit_defaults=True):
    """Absent or null fields stay out of the dict, as the normalizers expect."""


class _User(_Fields):
    id: Any = None
    login: Any = None
    username: Any = None
    email: Any = None
    name: Any = None
    type: Any = None


class _Label(_Fields):
    name: Any = None


class _Branch(_Fields):
    ref: Any = None
    sha: Any = None


class _Repository(_Fields):
    id: Any = None
    full_name: Any = None
    html_url: Any = None
    default_branch: Any = None


class _PullRequest(_Fields):
    id: Any = None
    number: Any = None
    title: Any = None
    html_url: Any = None
    user: _User | None = None
    base: _Branch | None = None
    head: _Branch | None = None
    draft: Any = None
    labels: list[_Label] | None = None
    created_at: Any = None
    updated_at: Any = None
    closed_at: Any = None
    merged: Any = None
    merged_at: Any = None
    merge_commit_sha: Any = None
    merged_by: _User | None = None


class _PullRequestEvent(_Fields):
    action: Any = None
    number: Any = None
    pull_request: _PullRequest | None = None
    repository: _Repository | None = None
    sender: _User | None = None
    changes: Any = None  # only its keys are read; small
    sextant: Any = None  # what a backfill adds (commit SHAs)


_DECODERS: dict[tuple[str, str], msgspec.json.Decoder[Any]] = {
    ("github", "pull_request"): msgspec.json.Decoder(_PullRequestEvent),
}


def parse(kind: str, event: str | None, body: bytes) -> Any:
    """The delivery's JSON, pruned to what its normalizer reads when it is one of the
    heavy kinds, else in full; raises :class:`orjson.JSONDecodeError` for a body that is
    not JSON."""
    decoder = _DECODERS.get((kind, event or ""))
    if decoder is not None:
        try:
            return msgspec.to_builtins(decoder.decode(body))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            # the full parse says what is wrong (nesting past its depth limit, too), or
            # reads what the structs could not
            pass
    return orjson.loads(body)
