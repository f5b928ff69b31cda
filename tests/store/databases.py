"""Scratch PostgreSQL databases on the shared server, one name per use."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy import make_url


async def create_database(server_url: str) -> str:
    """Create an empty database next to ``server_url``'s and return its URL."""
    name = f"agentsocket_store_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(database_url: str, server_url: str) -> None:
    """Drop the database ``create_database`` made, even with sessions still open."""
    name = make_url(database_url).database
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(server_url: str, sql: str) -> None:
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
