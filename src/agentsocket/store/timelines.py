"""Run timelines: the queries :class:`~agentsocket.store.Store` mixes in.

A run's timeline is what a live view showed of it: thinking, tool calls with
arguments and results, sub-agent runs, errors and the answer. It is stored
one row per event, appended in batches by the run's recorder
(:mod:`agentsocket.runs.timeline`), and read back with a page of history.

One row per event rather than one JSON document per run: a checkpoint
appends only its new events (one multi-row INSERT) instead of rewriting
everything stored so far, a run killed between checkpoints keeps every
checkpoint before (each is one transaction), and the events of the runs of
a history page come back in one indexed query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from agentsocket.store.errors import InvalidArgument, NotFound
from agentsocket.store.records import Message, RunTimeline, TimelineItem, TimelinePage
from agentsocket.store.tables import run_timeline_items, runs
from agentsocket.store.threads import ThreadQueries, fetch_thread

#: Most items one :meth:`TimelineQueries.append_timeline` call takes.
MAX_APPEND = 1000

_INSERT = run_timeline_items.insert()

#: Longest event type tag.
MAX_TYPE_LENGTH = 32
#: Default budget of a history page's timelines, in bytes of JSON.
DEFAULT_PAGE_BYTES = 1024 * 1024
#: Event types that end a run; a timeline holding its root's is complete.
TERMINAL_TYPES = frozenset({"agent_completed", "agent_error", "agent_cancelled"})


class TimelineQueries(ThreadQueries):
    """Append to and read back the timelines of runs."""

    async def append_timeline(self, run_id: str, items: Sequence[TimelineItem]) -> None:
        """Append ``items`` to the timeline of run ``run_id``, in one transaction.

        For the run's recorder, which already knows the run is legitimate, so
        it takes no user id.

        Args:
            items: positions ascending and after every stored one; ``data`` a
                JSON object without U+0000.

        Raises:
            NotFound: No such run (also once its thread has been deleted).
            InvalidArgument: An item is malformed, too many items, or a
                position is already stored; nothing was written.
        """
        if not items:
            return
        if len(items) > MAX_APPEND:
            raise InvalidArgument("items", f"at most {MAX_APPEND} per call, got {len(items)}")
        rows = [_row(run_id, item) for item in items]
        positions = [item.position for item in items]
        if positions != sorted(set(positions)):
            raise InvalidArgument("items", "positions must be distinct and ascending")
        try:
            # One hand-off to SQLite's thread, not a round trip per driver call.
            await self._transactions.run(lambda conn: conn.execute(_INSERT, rows))
        except IntegrityError:
            exists = sa.select(runs.c.id).where(runs.c.id == run_id)
            async with self._engine.connect() as conn:
                if (await conn.execute(exists)).first() is None:
                    raise NotFound("run", run_id) from None
            raise InvalidArgument("items", "a position is already stored") from None

    async def timeline_position(self, run_id: str) -> int:
        """The last stored position of a run's timeline (0 if none): where a run continued
        after a restart records on from."""
        query = sa.select(sa.func.max(run_timeline_items.c.position)).where(
            run_timeline_items.c.run_id == run_id
        )
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).scalar() or 0

    async def run_timelines(
        self, user_id: str, thread_id: str, run_ids: Sequence[str]
    ) -> list[RunTimeline]:
        """The stored timelines of those of ``run_ids`` that are runs of the user's thread.

        Ids of other threads' or users' runs, and unknown ids, are skipped
        alike. A run that stored nothing yet has an empty timeline.

        Raises:
            NotFound: No such thread, or it is another user's.
        """
        async with self._engine.connect() as conn:
            await fetch_thread(conn, user_id, thread_id)
            if not run_ids:
                return []
            owned = sa.select(runs.c.id, runs.c.status).where(
                runs.c.id.in_(set(run_ids)),
                runs.c.thread_id == thread_id,
                runs.c.user_id == user_id,
            )
            statuses = {row.id: row.status for row in await conn.execute(owned)}
            if not statuses:
                return []
            query = (
                sa.select(run_timeline_items)
                .where(run_timeline_items.c.run_id.in_(statuses))
                .order_by(run_timeline_items.c.run_id, run_timeline_items.c.position)
            )
            items: dict[str, list[TimelineItem]] = {run_id: [] for run_id in statuses}
            for row in await conn.execute(query):
                items[row.run_id].append(
                    TimelineItem(row.position, row.type, row.data, tuple(row.truncated or ()))
                )
        order = {run_id: i for i, run_id in enumerate(dict.fromkeys(run_ids))}
        return [
            _timeline(run_id, statuses[run_id], items[run_id])
            for run_id in sorted(statuses, key=order.__getitem__)
        ]

    async def history_page(
        self,
        user_id: str,
        thread_id: str,
        limit: int = 50,
        before: str | None = None,
        *,
        max_bytes: int = DEFAULT_PAGE_BYTES,
    ) -> TimelinePage:
        """A page of the thread's history (as :meth:`history`) with its runs' timelines.

        The newest messages are kept while the timelines of their runs fit in
        ``max_bytes`` (at least one message is); the rest go to older pages,
        so ``has_more`` and ``cursor`` may be set with fewer than ``limit``
        messages. A run's timeline comes with every page holding one of its
        messages (its prompt and its answer may fall on two pages).

        Raises:
            NotFound, InvalidArgument: as :meth:`history`.
        """
        page = await self.history(user_id, thread_id, limit, before)
        messages: tuple[Message, ...] = page.messages
        run_ids = [m.run_id for m in reversed(messages) if m.run_id is not None]
        timelines = {t.run_id: t for t in await self.run_timelines(user_id, thread_id, run_ids)}
        kept: list[Message] = []
        chosen: dict[str, RunTimeline] = {}
        budget = max_bytes
        for message in reversed(messages):
            timeline = timelines.get(message.run_id or "")
            cost = 0
            if timeline is not None and timeline.run_id not in chosen:
                cost = _size(timeline)
            if kept and cost > budget:
                break
            budget -= cost
            kept.append(message)
            if timeline is not None:
                chosen.setdefault(timeline.run_id, timeline)
        if len(kept) < len(messages):
            oldest = kept[-1]
            return TimelinePage(
                tuple(reversed(kept)), tuple(reversed(chosen.values())), True, oldest.id
            )
        return TimelinePage(messages, tuple(reversed(chosen.values())), page.has_more, page.cursor)


def _row(run_id: str, item: TimelineItem) -> dict[str, Any]:
    if item.position < 1:
        raise InvalidArgument("position", f"must be at least 1, got {item.position}")
    if not 1 <= len(item.type) <= MAX_TYPE_LENGTH or "\x00" in item.type:
        raise InvalidArgument("type", f"must be 1 to {MAX_TYPE_LENGTH} characters without NUL")
    if not isinstance(item.data, dict):
        raise InvalidArgument("data", "must be a JSON object")
    try:
        text = orjson.dumps(item.data)
    except TypeError as exc:
        raise InvalidArgument("data", f"is not JSON: {exc}") from None
    if b"\\u0000" in text:
        # PostgreSQL's text and JSON cannot hold U+0000; the recorder replaces it.
        raise InvalidArgument("data", "must not contain U+0000 (NUL)")
    return {
        "run_id": run_id,
        "position": item.position,
        "type": item.type,
        "data": item.data,
        "truncated": list(item.truncated) or None,
    }


def _timeline(run_id: str, status: Any, items: list[TimelineItem]) -> RunTimeline:
    last = items[-1].position if items else 0
    complete = any(
        item.type in TERMINAL_TYPES and item.data.get("run_id") == run_id for item in items
    )
    return RunTimeline(run_id, status, tuple(items), complete, omitted=last - len(items))


def _size(timeline: RunTimeline) -> int:
    return sum(len(orjson.dumps(item.data)) + 64 for item in timeline.items)
