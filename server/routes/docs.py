"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, served whole by this server.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so they are blank
where the server has no internet (a district's network often has none). The
same scripts come here from the ``fastapi-offline`` package and are served
under ``/docs/assets``: the pages load nothing from outside.

For example::

    mount_api_docs(app)   # done by create_app, which turns FastAPI's own pages off
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, swagger_ui_default_parameters
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
#: Swagger UI, ReDoc and their stylesheet, as the package ships them (fastapi_offline/static).
ASSETS = files("fastapi_offline") / "static"
FAVICON_URL = "/static/favicon.svg"  # the dashboard's


def mount_api_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their scripts to ``app`` (made with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS)), name="docs-assets")
    # validatorUrl None: Swagger UI would otherwise send the document to validator.swagger.io.
    parameters = {**swagger_ui_default_parameters, "validatorUrl": None}

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} — API",
                                   swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
                                   swagger_favicon_url=FAVICON_URL, swagger_ui_parameters=parameters)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} — API",
                              redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js", redoc_favicon_url=FAVICON_URL,
                              with_google_fonts=False)
