"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, served whole by this server.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank
where the server has no internet (a district's network often has none). The
same scripts come here from the ``fastapi-offline`` package and are served
under ``/docs/assets``: the pages load nothing from outside.

They are third-party scripts on the dashboard's origin, so each page has its
own Content-Security-Policy: scripts only from this server, plus the one
inline bootstrap of Swagger UI, allowed by its SHA-256 hash (the page is built
once, so the hash is fixed); no frames, no other origin. Their styles are
injected by the scripts at run time, hence ``'unsafe-inline'`` for styles
(never for scripts); ReDoc runs its search in a worker made from a ``blob:``.

For example::

    mount_api_docs(app)   # done by create_app, which turns FastAPI's own pages off
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
#: Swagger UI, ReDoc and their stylesheet, as the package ships them (fastapi_offline/static).
ASSETS = files("fastapi_offline") / "static"
FAVICON_URL = "/static/favicon.svg"  # the dashboard's
#: ReDoc's "powered by" logo, an image it loads from Redocly's CDN (refused by the policy, and third-party).
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def docs_policy(html: str) -> str:
    """The Content-Security-Policy for a docs page: this server's scripts and the page's own inline ones.

    >>> docs_policy("<script>go()</script>").split("; ")[1]
    "script-src 'self' 'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"
    """
    hashes = [base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
              for body in _INLINE_SCRIPT.findall(html)]
    scripts = " ".join(["'self'", *(f"'sha256-{digest}'" for digest in hashes)])
    return (f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
            "object-src 'none'")


def _with_policy(page: HTMLResponse) -> Callable[[], HTMLResponse]:
    """A function answering ``page`` (built once) with its own policy."""
    body = bytes(page.body)
    headers = {"Content-Security-Policy": docs_policy(body.decode())}
    return lambda: HTMLResponse(body, headers=headers)


def redoc_script() -> bytes:
    """ReDoc as the package ships it, but with an empty image (``data:,``) for its logo: ReDoc hides an image that
    does not load, so ``/redoc`` shows and loads nothing from another site (the "API docs by Redocly" link stays).

    >>> script = redoc_script(); REDOC_LOGO in script, b'src:"data:,"' in script
    (False, True)
    """
    return (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, b"data:,")


def mount_api_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their scripts to ``app`` (made with ``docs_url=None, redoc_url=None``)."""
    redoc_js = redoc_script()

    @app.get(f"{ASSETS_URL}/redoc.standalone.js", include_in_schema=False)
    async def redoc_standalone_js() -> Response:  # before the mount, which serves the package's own copy
        return Response(redoc_js, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS)), name="docs-assets")
    # validatorUrl None: Swagger UI would otherwise send the document to validator.swagger.io.
    parameters = {**swagger_ui_default_parameters, "validatorUrl": None}

    swagger = _with_policy(get_swagger_ui_html(
        openapi_url=app.openapi_url, title=f"{app.title} — API", swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css", swagger_favicon_url=FAVICON_URL,
        swagger_ui_parameters=parameters))
    redoc = _with_policy(get_redoc_html(
        openapi_url=app.openapi_url, title=f"{app.title} — API", redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=FAVICON_URL, with_google_fonts=False))

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return swagger()

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return redoc()
