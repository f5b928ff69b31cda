"""Runs' pauses for a person: the queries :class:`~agentsocket.store.Store` mixes in.

A pause is resolved at most once: answering and expiring are one conditional
UPDATE each (``WHERE status = 'pending'``), so of concurrent callers on any
number of nodes exactly one wins and the others learn what won.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

import sqlalchemy as sa

from agentsocket.store.base import StoreBase
from agentsocket.store.errors import NotFound, StoreError
from agentsocket.store.records import Interrupt
from agentsocket.store.tables import interrupts, runs


class AlreadyResolved(StoreError):  # noqa: N818 (what happened, like NotFound)
    """The pause was answered or expired before this call; ``interrupt`` says how."""

    def __init__(self, interrupt: Interrupt) -> None:
        what = f"{interrupt.kind} {interrupt.interrupt_id!r}"
        super().__init__(f"{what} is already {interrupt.status}")
        self.interrupt = interrupt


class InterruptQueries(StoreBase):
    """Record, answer, expire and look up pauses."""

    async def add_interrupt(self, interrupt: Interrupt) -> None:
        """Record a ``pending`` pause (before the request is sent)."""
        async with self._engine.begin() as conn:
            await conn.execute(interrupts.insert().values(asdict(interrupt)))

    async def find_interrupt(
        self, user_id: str, node_run_id: str, interrupt_id: str
    ) -> Interrupt | None:
        """The user's pause of the run or sub-run ``node_run_id`` with this id, if any."""
        return await self._fetch(
            interrupts.c.user_id == user_id,
            interrupts.c.node_run_id == node_run_id,
            interrupts.c.interrupt_id == interrupt_id,
        )

    async def resolve_interrupt(
        self,
        interrupt: Interrupt,
        status: Literal["answered", "expired"],
        resolution: dict[str, Any],
        *,
        answered_by: str | None = None,
        answered_node: str | None = None,
    ) -> Interrupt:
        """Answer or expire a pending pause; exactly one call wins.

        An answer is refused once the pause's ``expires_at`` has passed, even
        if the expiry has not been applied yet: the default is what applies.

        Raises:
            AlreadyResolved: it was answered or expired first (or has expired).
            NotFound: no such pause (its run's thread was deleted).
        """
        now = self._clock()
        where = [
            interrupts.c.run_id == interrupt.run_id,
            interrupts.c.ordinal == interrupt.ordinal,
            interrupts.c.status == "pending",
        ]
        if status == "answered":
            where.append(interrupts.c.expires_at > now)
        query = (
            interrupts.update()
            .where(*where)
            .values(
                status=status,
                resolution=resolution,
                answered_by=answered_by,
                answered_node=answered_node,
                resolved_at=now,
            )
            .returning(interrupts)
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).first()
        if row is not None:
            return Interrupt(**row._mapping)
        current = await self._fetch(
            interrupts.c.run_id == interrupt.run_id, interrupts.c.ordinal == interrupt.ordinal
        )
        if current is None:
            raise NotFound("interrupt", interrupt.interrupt_id)
        raise AlreadyResolved(current)

    async def claim_continuation(self, interrupt: Interrupt) -> bool:
        """Claim continuing the run after this resolved pause; True for exactly one caller."""
        query = (
            interrupts.update()
            .where(
                interrupts.c.run_id == interrupt.run_id,
                interrupts.c.ordinal == interrupt.ordinal,
                interrupts.c.status != "pending",
                interrupts.c.continued_at.is_(None),
            )
            .values(continued_at=self._clock())
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def run_interrupts(self, run_id: str) -> list[Interrupt]:
        """Every pause of a root run, in the order they were asked."""
        query = sa.select(interrupts).where(interrupts.c.run_id == run_id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query.order_by(interrupts.c.ordinal))).all()
        return [Interrupt(**row._mapping) for row in rows]

    async def due_interrupts(self, limit: int = 100) -> list[Interrupt]:
        """Pending pauses whose ``expires_at`` has passed, soonest first."""
        query = (
            sa.select(interrupts)
            .where(interrupts.c.status == "pending", interrupts.c.expires_at <= self._clock())
            .order_by(interrupts.c.expires_at)
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Interrupt(**row._mapping) for row in rows]

    async def paused_runs(self) -> list[str]:
        """Ids of the ``running`` runs that have paused at least once."""
        query = (
            sa.select(interrupts.c.run_id)
            .distinct()
            .join(runs, runs.c.id == interrupts.c.run_id)
            .where(runs.c.status == "running")
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())

    async def _fetch(self, *where: sa.ColumnElement[bool]) -> Interrupt | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(interrupts).where(*where))).first()
        return None if row is None else Interrupt(**row._mapping)
