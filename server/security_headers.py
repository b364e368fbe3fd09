"""Security headers on every answer of the server: pages, exports, static files, the API.

Browsers are told not to guess content types (``nosniff``), to send no
``Referer`` off our pages (a URL can carry report filters), and to show none
of our answers inside another site's frame. The Content-Security-Policy lets
a page run only this server's own script files and styles: a name that
slipped past escaping could still not run. A route that needs a different
policy (``/docs`` and ``/redoc``, see :mod:`server.routes.docs`) sets its own
``Content-Security-Policy``; every other header is added only where a route
did not set it.

For example::

    app.add_middleware(SecurityHeaders)   # done by create_app
"""

from __future__ import annotations

#: The policy of every answer that sets none: only this server's files, never in a frame, no inline script.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_ENCODED = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()]


class SecurityHeaders:
    """ASGI middleware that adds :data:`HEADERS` to every HTTP answer that lacks them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers.extend((name, value) for name, value in _ENCODED if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
