"""The web chat page the gateway serves at ``/``: static HTML, CSS and compiled JS.

The scripts are compiled from ``web/src/*.ts`` by ``scripts/build-web.sh``;
``docs/web.md`` explains the page.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["static_dir"]


def static_dir() -> Path:
    """The directory holding ``index.html``, ``app.css`` and the page's scripts."""
    return Path(__file__).parent / "static"
