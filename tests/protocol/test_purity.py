"""The protocol package stays sans-I/O: importing it loads no I/O stack."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("asyncio", "starlette", "uvicorn", "redis", "sqlalchemy", "websockets", "httpx")


def test__import_protocol__fresh_interpreter__loads_no_io_modules() -> None:
    code = (
        "import sys, agentsocket.protocol, agentsocket.protocol.schema, "
        "agentsocket.protocol.golden, agentsocket.protocol.negotiation\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
