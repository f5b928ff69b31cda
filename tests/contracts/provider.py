"""Verify contracts against captured real frames: pacts with pact's Verifier, JSON ones here.

For a pact, the Verifier asks for each interaction's message by its provider
state (``protocol <version>``, the message type, the ``where`` reads); the
answer is the first frame of that type the real server sent to a client of
that version that the ``where`` reads accept. All pact files go through one
Verifier run (each run costs about a second). A JSON contract is checked on
every captured frame each expectation is about.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pact import Verifier
from pact.types import Message

from agentsocket.protocol.contracts import FORMAT, Contract, Read, check
from tests.contracts.capture import Captured
from tests.contracts.pacts import CONTENT_TYPE, PROVIDER
from tests.contracts.pacts import metadata as message_metadata

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Verification:
    """The outcome of a verification: failures by (consumer, description)."""

    failures: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    checked: int = 0
    output: str = ""

    @property
    def ok(self) -> bool:
        return not self.failures

    def report(self) -> str:
        lines = [f"{len(self.failures)} of {self.checked} expectations failed:"]
        for (consumer, description), reasons in sorted(self.failures.items()):
            lines.append(f"- {consumer}: {description}")
            lines.extend(f"    {reason}" for reason in reasons)
        return "\n".join(lines)


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def is_pact(path: Path) -> bool:
    return "interactions" in _document(path)


def is_json_contract(path: Path) -> bool:
    return bool(_document(path).get("format") == FORMAT)


def verify_pacts(files: Iterable[Path], captured: Captured) -> Verification:
    """Verify pact files against the captured frames in one Verifier run."""

    # pact passes the arguments by name: they must be called name and metadata.
    def produce(name: str, metadata: dict[str, Any] | None) -> Message:
        state = (metadata or {})["providerStates"][0]
        version = str(state["name"]).removeprefix("protocol ")
        params = state.get("params", {})
        message = params["message"]
        where = [Read.from_json(read) for read in params.get("where", [])]
        frames = [f for f in captured.of(version, message) if not check(where, f)]
        if not frames:
            variant = f" where {', '.join(map(str, where))}" if where else ""
            raise LookupError(f"the server never sent a {version} {message}{variant}")
        return Message(
            contents=json.dumps(frames[0]).encode(),
            metadata=message_metadata(message, name),
            content_type=CONTENT_TYPE,
        )

    verifier = Verifier(PROVIDER, host="127.0.0.1").message_handler(produce)
    for path in files:
        verifier.add_source(path)
    with contextlib.suppress(RuntimeError):  # a failed verification: the results say what
        verifier.verify()
    results = verifier.results
    outcome = Verification(output=_ANSI.sub("", "\n".join(results.get("output", []))))
    for result in results.get("interactionResults", []):
        outcome.checked += 1
        if result.get("result") == "OK":
            continue
        mismatch = result.get("mismatch") or {}
        reasons = [
            f"{m.get('path', m.get('key', ''))}: {m.get('mismatch')}"
            for m in mismatch.get("mismatches", [])
        ] or [str(mismatch.get("message") or mismatch or result)]
        outcome.failures[(result["consumer"], result["description"])] = reasons
    return outcome


def verify_json(contract: Contract, captured: Captured) -> Verification:
    """Check every captured frame each expectation of ``contract`` is about."""
    outcome = Verification()
    for expectation in contract.expectations:
        outcome.checked += 1
        key = (contract.name, expectation.description)
        frames = captured.selected(contract.version, expectation)
        if not frames:
            outcome.failures[key] = [
                f"the server never sent a {contract.version} {expectation.description}"
            ]
            continue
        reasons = [
            f"frame {index}: {mismatch}"
            for index, frame in enumerate(frames)
            for mismatch in check(expectation.reads, frame)
        ]
        if reasons:
            outcome.failures[key] = reasons
    return outcome
