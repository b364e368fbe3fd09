"""``GET /api/v1/reports/...``: the report figures over the server's ratings (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["reports"])
