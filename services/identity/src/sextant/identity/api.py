"""Identity's HTTP routes (behind the gateway's internal token)."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["identity"])
