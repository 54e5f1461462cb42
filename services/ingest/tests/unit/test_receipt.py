"""The webhook's reply is written from ``Accepted`` without a model: it must stay the
documented DeliveryReceipt, field for field."""

from dataclasses import fields

import orjson
import pytest

from sextant.ingest.schemas import DeliveryReceipt
from sextant.ingest.service import Accepted


def test_accepted_has_exactly_the_receipts_fields():
    assert [f.name for f in fields(Accepted)] == list(DeliveryReceipt.model_fields)


@pytest.mark.parametrize(
    "accepted",
    [
        Accepted("d-1", False, "normalized", 2, None),
        Accepted("d-2", True, "duplicate", 0, None),
        Accepted("d-3", False, "ignored", 0, "pull_request action 'locked' changes nothing"),
    ],
)
def test_the_reply_reads_back_as_a_receipt(accepted):
    receipt = DeliveryReceipt.model_validate_json(orjson.dumps(accepted))
    assert receipt.model_dump() == {f.name: getattr(accepted, f.name) for f in fields(Accepted)}
