"""The OpenAPI explorer at /docs, served wholly by the application: it works without the internet.

Swagger UI's assets come from a pip package, `fastapi-offline` (Swagger UI 5, which reads OpenAPI 3.1
documents as FastAPI writes them; `swagger-ui-bundle` ships Swagger UI 4, which refuses them). The page
loads them from /docs/assets, and its start-up script from /docs/init.js: no inline script, no CDN,
no online validator badge, so the page's Content-Security-Policy can stay at 'self'.
"""

from __future__ import annotations

import json
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
INIT_URL = "/docs/init.js"
ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


def _page(title: str) -> str:
    return f"""<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>{title} — documentation de l'API</title>
<link rel="icon" type="image/png" href="{ASSETS_URL}/favicon.png">
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{INIT_URL}"></script>
</body>
</html>
"""


def _init_script(openapi_url: str) -> str:
    options = {
        "url": openapi_url,
        "dom_id": "#swagger-ui",
        "layout": "BaseLayout",
        "deepLinking": True,
        "showExtensions": True,
        "showCommonExtensions": True,
        "persistAuthorization": True,
        "validatorUrl": None,  # Swagger UI would otherwise ask an online validator for a badge
    }
    return (
        f"const options = {json.dumps(options)};\n"
        "options.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];\n"
        "window.ui = SwaggerUIBundle(options);\n"
    )


def install(app: FastAPI) -> None:
    """Serve /docs, its start-up script and Swagger UI's assets (outside the OpenAPI document)."""
    openapi_url = app.openapi_url or "/openapi.json"
    page, script = _page(app.title), _init_script(openapi_url)

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get(INIT_URL, include_in_schema=False)
    async def swagger_ui_init() -> Response:
        return Response(script, media_type="text/javascript")

    app.mount(ASSETS_URL, StaticFiles(directory=str(ASSETS)), name="docs-assets")
