"""Reports: one module for ``kiosk-admin report`` and the server's dashboard and API (being built)."""
