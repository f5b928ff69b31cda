"""Small asyncio helpers shared by the gateway, the delivery layer and the worker."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("agentsocket.aio")


async def cancel_and_wait(task: asyncio.Task[Any], grace: float = 5.0) -> bool:
    """Cancel ``task`` and wait until it ended; False if it still runs after ``grace`` s.

    Cancels again while it runs: on Python 3.11 ``asyncio.wait_for``, which
    redis-py awaits on every read, loses a cancellation that arrives just as the
    read completes (CPython gh-86296, fixed in 3.12). One ``cancel()`` of a task
    looping over Redis commands may then never end it, and shutdown would hang.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            log.error("task %s ignored cancellation for %.0f s", task.get_name(), grace)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(0.1, left))
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("task %s failed", task.get_name(), exc_info=error)
    return True
