"""Rejoining a run in flight: the part of a thread's history that is still in the stream.

A thread's first history page shows what the store holds: the questions and
the final answers of ended runs. A run in flight has only its question there;
its events so far are in the user's stream. :func:`history_cut` reads them
from the stream's log and cuts the answer at one stream seq, so a client
shows ``messages``, then ``events``, then only the thread's stream messages
past ``stream_seq``: every event exactly once, whenever it opened the thread.

Why the reads come in this order (``docs/delivery.md``, "Rejoining a run"):

1. ``floor`` — the stream head, before the store is read. A run accepted
   after the store read publishes its question (``user_message_accepted``)
   after it, so above ``floor``: found in the log even though the store did
   not list it.
2. the thread's ``running`` runs, then the history page (the caller's).
3. ``cut`` — the stream head, after the store reads. A run whose answer is
   on the page stored it after publishing all but its terminal event, so
   everything but that event is at or below ``cut``: the client drops it.

The log is read backwards from ``cut`` in batches until every running run's
first message (its ``user_message_accepted``) is found and ``floor`` is
passed, or the log holds no more (retention; a run accepted by an older
gateway has no such message, so the whole retained log is read once for it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agentsocket.delivery import Broker, Entry
from agentsocket.protocol import server_messages as s

#: Entries per log read while looking for a run's start.
BATCH = 200
_ACCEPTED = s.UserMessageAccepted.TYPE


@dataclass(frozen=True, slots=True)
class HistoryCut:
    """A thread's runs in flight as the stream had them at ``seq``."""

    seq: int
    events: list[s.StreamFrame]


async def stream_head(broker: Broker, user_id: str) -> int:
    """The newest seq of the user's stream (read first, as ``floor``)."""
    return (await broker.position(user_id)).seq


async def history_cut(
    broker: Broker,
    user_id: str,
    thread_id: str,
    *,
    floor: int,
    running: Collection[str],
    page: Sequence[s.HistoryMessage],
) -> HistoryCut:
    """The thread's runs in flight, from the log, up to the stream head now.

    Args:
        floor: the stream head read before ``running`` and ``page``.
        running: ids of the thread's runs the store had as running.
        page: the history page the answer carries.
    """
    head = await broker.position(user_id)
    cut, epoch = head.seq, head.epoch
    found: list[tuple[Entry, dict[str, Any]]] = []
    missing = set(running)
    high = cut
    while high > 0 and (missing or high > floor):
        low = max(0, high - BATCH)
        read = await broker.read(user_id, low, high - low)
        if read.epoch != epoch:
            break  # the stream was lost meanwhile: the client gets stream_gap and reloads
        batch = [entry for entry in read.entries if entry.seq <= high]
        for entry in reversed(batch):
            frame = orjson.loads(entry.payload)
            data = frame.get("data") or {}
            if data.get("thread_id") != thread_id:
                continue
            found.append((entry, frame))
            if frame.get("type") == _ACCEPTED:
                missing.discard(data.get("run_id"))
        if not batch or batch[0].seq > low + 1:
            break  # retention: the log holds nothing older
        high = low
    found.reverse()
    return HistoryCut(cut, select_events(found, floor=floor, running=running, page=page))


def select_events(
    entries: Iterable[tuple[Entry, dict[str, Any]]],
    *,
    floor: int,
    running: Collection[str],
    page: Sequence[s.HistoryMessage],
) -> list[s.StreamFrame]:
    """The frames of the runs in flight among a thread's ``entries`` (oldest first).

    A run is in flight if the store had it running, or if its question came
    after ``floor`` (accepted after the store was read); its sub-runs go with
    it. Runs whose answer is on ``page`` are left out (the page shows them),
    and so is a question the page already shows.
    """
    answered = {m.run_id for m in page if m.role == "assistant" and m.run_id is not None}
    shown = {m.message_id for m in page}
    root: dict[str, str] = {run_id: run_id for run_id in running}
    events: list[s.StreamFrame] = []
    for entry, frame in entries:
        kind, data = frame.get("type"), frame.get("data") or {}
        run_id, parent = data.get("run_id"), data.get("parent_run_id")
        if not isinstance(run_id, str):
            continue
        if run_id not in root:
            if isinstance(parent, str) and parent in root:
                root[run_id] = root[parent]
            elif kind == _ACCEPTED and entry.seq > floor:
                root[run_id] = run_id
            else:
                continue
        if root[run_id] in answered:
            continue
        if kind == _ACCEPTED and data.get("message_id") in shown:
            continue
        events.append(
            s.StreamFrame(
                type=str(kind),
                data=data,
                seq=entry.seq,
                timestamp=frame.get("timestamp", 0.0),
                server_id=frame.get("server_id"),
                correlation_id=frame.get("correlation_id"),
            )
        )
    return events
