"""The administrator's client: ``kiosk-admin pull | report`` (a client of the server's admin API)."""
