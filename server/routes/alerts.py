"""``GET /api/v1/alerts``: alerts fired by the configured rules (being built)."""

from fastapi import APIRouter

router = APIRouter(tags=["alerts"])
