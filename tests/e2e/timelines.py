"""Helpers of the stored-timeline e2e tests."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path


async def stored_items(database: Path, at_least: int, timeout: float = 15.0) -> None:
    """Wait until the SQLite database holds ``at_least`` timeline rows (a checkpoint landed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(database)) as db:
            (count,) = db.execute("SELECT count(*) FROM run_timeline_items").fetchone()
        if count >= at_least:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"only {count} timeline rows stored after {timeout} s")
        await asyncio.sleep(0.1)  # another process writes them: nothing here to await
