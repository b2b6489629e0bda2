"""The analyst web page: `GET /` and its static files (api/static, plain HTML/CSS/JS)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

# Resolved: a strict editable install links each file, and StaticFiles serves no symlinks.
STATIC = Path(__file__).resolve().parent / "static"
# The page needs nothing but its own files and the API; a strict policy keeps pasted markup
# inert even if a rendering bug ever let it into the DOM.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


def add_page(app: FastAPI) -> None:
    """Serve the page at `/` and its assets under `/static`. Open even when API keys are
    required: it holds no data, and sends the key the user types with each request."""

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
