"""Golden frames: every example message encoded in every version.

:func:`golden_frames` is pure; ``agentsocket protocol golden --write`` stores
the result under ``golden/<version>/<direction>/<type>.json`` and a test
fails when the committed files differ, so every change of a wire shape is
visible in review.
"""

from __future__ import annotations

import orjson

from agentsocket.protocol.codec import encode_client, encode_server
from agentsocket.protocol.examples import (
    CLIENT_EXAMPLES,
    LEGACY_CLIENT_EXAMPLES,
    SERVER_EXAMPLES,
)
from agentsocket.protocol.versions import VERSIONS, NotInVersion

GOLDEN_DIR = "golden"


def _pretty(frame: bytes) -> bytes:
    return orjson.dumps(orjson.loads(frame), option=orjson.OPT_INDENT_2) + b"\n"


def golden_frames() -> dict[str, bytes]:
    """Relative path → file content of every golden frame."""
    files: dict[str, bytes] = {}
    for version in VERSIONS:
        for type_name, server in SERVER_EXAMPLES.items():
            encoded = encode_server(server, version)
            if encoded is not None:
                files[f"{version.name}/server/{type_name}.json"] = _pretty(encoded)
        for type_name, client in CLIENT_EXAMPLES.items():
            try:
                files[f"{version.name}/client/{type_name}.json"] = _pretty(
                    encode_client(client, version)
                )
            except NotInVersion:
                continue
        for alias, frame in LEGACY_CLIENT_EXAMPLES.get(version.name, {}).items():
            files[f"{version.name}/client-aliases/{alias}.json"] = _pretty(orjson.dumps(frame))
    return files
