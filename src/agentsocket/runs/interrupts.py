"""Durable pauses: kept in the store, answered exactly once, continued after a crash.

A run that asks for an approval or an answer (:mod:`agentsocket.agents.pauses`)
writes the pause through :class:`StoredPauses` before it is announced. An
answer, on any node and from any connection of the user, goes through
:meth:`Interrupts.answer`: checked against what was asked, claimed in the
store (the first claim wins; a second answer is refused with ``conflict``),
audited, and handed to the run. If no process waits for it any more (the
one that asked was killed), the run is continued: its agent runs again with
a :class:`~agentsocket.agents.pauses.Replay` of its pauses. A pause nobody
waits for that expires gets its default the same way, from the sweep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Literal, Protocol

from agentsocket.agents.answers import schema_errors
from agentsocket.agents.pauses import Pause, PauseKind, Replay, Resolution
from agentsocket.aio import cancel_and_wait
from agentsocket.delivery.run_queue import RunRequest
from agentsocket.protocol import ErrorCode
from agentsocket.protocol.server_messages import SERVER_MESSAGES, AgentEvent
from agentsocket.store import AlreadyResolved, Interrupt, NotFound, Store

log = logging.getLogger("agentsocket.runs")

#: The fields of :class:`RunRequest` a continuation needs (the rest are the first run's timings).
_CONTINUATION = ("run_id", "user_id", "thread_id", "agent", "prompt", "answerable")


def interrupt_record(pause: Pause, request: RunRequest, created_at: float) -> Interrupt:
    """The store's record of ``pause``, asked by the run of ``request``."""
    details = {
        "default": pause.default,
        "tool_name": pause.tool_name,
        "arguments": pause.arguments,
        "arguments_schema": pause.arguments_schema,
        "prompt": pause.prompt,
        "answer_schema": pause.answer_schema,
        "sub_run_ids": list(pause.sub_run_ids),
        "announcement": None if pause.announcement is None else dict(pause.announcement),
    }
    fields = asdict(request)
    return Interrupt(
        run_id=pause.run_id,
        ordinal=pause.ordinal,
        user_id=request.user_id,
        thread_id=request.thread_id,
        node_run_id=pause.node_run_id,
        interrupt_id=pause.interrupt_id,
        kind=pause.kind,
        status="pending",
        request={k: v for k, v in details.items() if v is not None or k == "default"},
        continuation={name: fields[name] for name in _CONTINUATION},
        resolution=None,
        answered_by=None,
        answered_node=None,
        created_at=created_at,
        expires_at=pause.expires_at,
        resolved_at=None,
    )


def pause_of(record: Interrupt) -> Pause:
    """The pause a record stores."""
    asked = record.request
    return Pause(
        run_id=record.run_id,
        node_run_id=record.node_run_id,
        ordinal=record.ordinal,
        kind=record.kind,
        interrupt_id=record.interrupt_id,
        expires_at=record.expires_at,
        default=asked.get("default"),
        tool_name=asked.get("tool_name"),
        arguments=asked.get("arguments"),
        arguments_schema=asked.get("arguments_schema"),
        prompt=asked.get("prompt"),
        answer_schema=asked.get("answer_schema"),
        sub_run_ids=tuple(asked.get("sub_run_ids", ())),
        announcement=asked.get("announcement"),
    )


def resolution_of(record: Interrupt) -> Resolution:
    """How a resolved record ended (its ``resolution`` column)."""
    if record.resolution is None:
        raise ValueError(f"{record.kind} {record.interrupt_id} is still pending")
    return Resolution(**record.resolution)


def replay_of(records: list[Interrupt]) -> Replay:
    """What continuing the run of ``records`` (all resolved) replays."""
    return Replay.of([(pause_of(r), resolution_of(r)) for r in records])


def request_of(record: Interrupt) -> RunRequest:
    """The run request that continues the run of ``record``."""
    return RunRequest(**record.continuation, resume=True)


class StoredPauses:
    """A run's :class:`~agentsocket.agents.pauses.PauseBook` in the store."""

    def __init__(
        self, store: Store, request: RunRequest, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._request = request
        self._clock = clock

    async def open(self, pause: Pause) -> None:
        await self._store.add_interrupt(interrupt_record(pause, self._request, self._clock()))

    async def expire(self, pause: Pause) -> Resolution:
        default = pause.resolved_by_default("expired")
        record = interrupt_record(pause, self._request, self._clock())
        try:
            await self._store.resolve_interrupt(record, "expired", asdict(default))
        except AlreadyResolved as exc:
            return resolution_of(exc.interrupt)  # an answer came first
        except NotFound:
            pass  # the thread was deleted: nobody can answer
        return default


class Holder(Protocol):
    """What :class:`Interrupts` needs of an executor."""

    async def wake(
        self, user_id: str, root_run_id: str, run_id: str, interrupt_id: str, resolution: Resolution
    ) -> bool:
        """Hand the resolution to the process whose run waits for it; False if none does."""
        ...

    async def holds(self, run_id: str) -> bool:
        """True while some live process runs the root run ``run_id``."""
        ...

    async def resume(self, request: RunRequest, replay: Replay) -> None:
        """Run the agent of ``request`` again, replaying up to its last pause."""
        ...


class AnswerRefused(Exception):  # noqa: N818 - what the client is told
    """An answer that cannot be taken: a typed error for the client.

    Attributes:
        issues: (path under the message's fields, reason) of a ``validation_failed``.
    """

    def __init__(
        self, code: ErrorCode, message: str, issues: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.issues = issues


class Interrupts:
    """Takes answers, applies expiries nobody waits for, continues runs after a crash.

    Args:
        store: the store (a callable, as the gateway opens it later).
        holder: the executor that runs the runs.
        node: this node's id, for the audit.
        sweep_interval: seconds between looks for expired pauses nobody waits for.
    """

    def __init__(
        self,
        store: Callable[[], Store],
        holder: Holder,
        node: str,
        *,
        sweep_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._holder = holder
        self._node = node
        self._sweep_interval = sweep_interval
        self._sweep: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sweep = asyncio.create_task(self._sweeping(), name="agentsocket-interrupt-sweep")

    async def close(self) -> None:
        if self._sweep is not None:
            await cancel_and_wait(self._sweep)

    async def answer(
        self,
        user_id: str,
        connection_id: str,
        run_id: str,
        interrupt_id: str,
        kind: PauseKind,
        *,
        approved: bool | None = None,
        reason: str | None = None,
        arguments: dict[str, Any] | None = None,
        answer: Any = None,
    ) -> None:
        """Answer a pause of the user's run or sub-run ``run_id``, exactly once.

        Raises:
            AnswerRefused: ``not_found`` (no such pause of this user),
                ``validation_failed`` (the answer or edited arguments do not
                satisfy the schema; the pause stays open) or ``conflict``
                (answered already, or expired).
        """
        store = self._store()
        record = await store.find_interrupt(user_id, run_id, interrupt_id)
        if record is None or record.kind != kind:
            raise AnswerRefused(ErrorCode.NOT_FOUND, f"no such pending {kind}")
        if kind == "approval":
            resolution = _approval(record, bool(approved), reason, arguments, connection_id)
        else:
            resolution = _answer(record, answer, connection_id)
        if record.status != "pending":
            raise AnswerRefused(ErrorCode.CONFLICT, f"this {kind} was already {record.status}")
        if not await self._running(record):
            raise AnswerRefused(ErrorCode.CONFLICT, f"the run of this {kind} has ended")
        try:
            record = await store.resolve_interrupt(
                record,
                "answered",
                asdict(resolution),
                answered_by=connection_id,
                answered_node=self._node,
            )
        except AlreadyResolved as exc:
            status = exc.interrupt.status
            if status == "pending":  # past its expiry, the default not applied yet
                status = "expired"
            raise AnswerRefused(ErrorCode.CONFLICT, f"this {kind} was already {status}") from None
        log.info(
            "%s answered",
            kind,
            extra={
                "run_id": record.node_run_id,
                "interrupt_id": interrupt_id,
                "user_id": user_id,
                "connection_id": connection_id,
                "node": self._node,
                "approved": resolution.approved,
            },
        )
        await self._apply(record, resolution)

    async def recover(self) -> list[str]:
        """Continue the paused runs whose pause was resolved while no process held them.

        For a single node at start, before it takes requests: every paused run
        then lost its process. Runs still waiting stay paused, to be continued
        when answered or expired.

        Returns:
            The runs that cannot go on: continued once already after their
            last pause, and lost again before pausing anew (end them as lost).
        """
        lost = []
        for run_id in await self._store().paused_runs():
            try:
                if await self.goes_on(run_id) == "lost":
                    lost.append(run_id)
            except Exception:
                log.exception("could not continue a paused run", extra={"run_id": run_id})
        return lost

    async def paused(self) -> list[RunRequest]:
        """The runs still running that have paused, as the requests that continue them."""
        store = self._store()
        found = []
        for run_id in await store.paused_runs():
            records = await store.run_interrupts(run_id)
            if records:
                found.append(request_of(records[-1]))
        return found

    async def waiting(self) -> list[tuple[str, AgentEvent]]:
        """The requests of the pauses still waiting, per user, as they were sent.

        For a single node at start: its clients lost them with its stream.
        """
        found = []
        store = self._store()
        for run_id in await store.paused_runs():
            records = await store.run_interrupts(run_id)
            if not records or records[-1].status != "pending":
                continue
            announcement = records[-1].request.get("announcement")
            if not isinstance(announcement, dict):
                continue
            message = SERVER_MESSAGES[announcement["type"]].model_validate(announcement["data"])
            if isinstance(message, AgentEvent):
                found.append((records[-1].user_id, message))
        return found

    async def lost(self, run_id: str) -> bool:
        """For a run whose process died: False if it is lost (never paused, or
        continued once already after its last pause); the caller ends it.

        Otherwise it goes on: continued now if its last pause was resolved,
        else when that pause is answered or expires.
        """
        return await self.goes_on(run_id) not in ("lost", "ended")

    async def dormant(self, run_id: str) -> bool:
        """True if the run has paused and no live process holds it (it waits for an answer)."""
        records = await self._store().run_interrupts(run_id)
        return bool(records) and not await self._holder.holds(run_id)

    async def goes_on(
        self, run_id: str
    ) -> Literal["continued", "waiting", "lost", "taken", "ended"]:
        """Continue a run with no live process, if its last pause is resolved.

        Of every node calling this for the same resolution, exactly one
        continues the run (a claim in the store); the others get ``taken``.

        Returns:
            ``continued`` (by this call), ``waiting`` (its last pause is still
            pending), ``lost`` (it never paused, or it was continued after its
            last pause already and lost again), ``taken`` (another node
            continues it) or ``ended`` (the run ended meanwhile, e.g. stopped).
        """
        store = self._store()
        records = await store.run_interrupts(run_id)
        if not records:
            return "lost"
        last = records[-1]
        if not await self._running(last):
            return "ended"
        if last.status == "pending":
            return "waiting"
        if last.continued_at is not None or not await store.claim_continuation(last):
            return "lost" if last.continued_at is not None else "taken"
        log.info("continuing a paused run", extra={"run_id": run_id, "pauses": len(records)})
        await self._holder.resume(request_of(last), replay_of(records))
        return "continued"

    async def _running(self, record: Interrupt) -> bool:
        try:
            run = await self._store().get_run(record.user_id, record.run_id)
        except NotFound:
            return False
        return run.status == "running"

    async def _apply(self, record: Interrupt, resolution: Resolution) -> None:
        if await self._holder.wake(
            record.user_id, record.run_id, record.node_run_id, record.interrupt_id, resolution
        ):
            return
        # Nobody waits for it: the process that asked is gone.
        await self.goes_on(record.run_id)

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping expired pauses failed; retrying")

    async def sweep(self) -> None:
        """Expire the pauses past their time that no live process waits for."""
        store = self._store()
        for record in await store.due_interrupts():
            if await self._holder.holds(record.run_id):
                continue  # the run's own process applies the expiry
            default = pause_of(record).resolved_by_default("expired")
            try:
                await store.resolve_interrupt(record, "expired", asdict(default))
            except (AlreadyResolved, NotFound):
                continue  # another node was first
            await self.goes_on(record.run_id)


def _approval(
    record: Interrupt,
    approved: bool,
    reason: str | None,
    arguments: dict[str, Any] | None,
    connection_id: str,
) -> Resolution:
    if arguments is not None and approved:
        schema = record.request.get("arguments_schema")
        if schema is None:
            raise AnswerRefused(
                ErrorCode.VALIDATION_FAILED,
                "the arguments of this tool call cannot be edited",
                (("arguments", "not editable"),),
            )
        problems = schema_errors(schema, arguments, "arguments")
        if problems:
            raise AnswerRefused(
                ErrorCode.VALIDATION_FAILED,
                "the edited arguments do not satisfy the tool's schema",
                tuple(problems),
            )
    return Resolution(
        "answered",
        approved=approved,
        arguments=arguments if approved else None,
        reason=None if approved else reason,
        answered_by=connection_id,
    )


def _answer(record: Interrupt, answer: Any, connection_id: str) -> Resolution:
    problems = schema_errors(record.request.get("answer_schema") or {}, answer, "answer")
    if problems:
        raise AnswerRefused(
            ErrorCode.VALIDATION_FAILED,
            "the answer does not satisfy the question's schema",
            tuple(problems),
        )
    return Resolution("answered", answer=answer, answered_by=connection_id)
