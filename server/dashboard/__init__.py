"""The administrators' dashboard served at ``/`` (being built)."""

from fastapi import FastAPI


def mount_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and static files to ``app``."""
