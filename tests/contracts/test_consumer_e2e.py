"""The e2e suites as a consumer: their reading code handles every message they declare.

For each version, the declared reads become a pact; pact hands each example
message to the suites' own readers (``harness.tag`` and ``harness.body``),
which must find the message's name and every declared field; the pact is then
published under ``contracts/``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agentsocket.protocol.contracts import Contract, Expectation, check
from tests.contracts import e2e_reads
from tests.contracts.pacts import pact_path, publish, to_pact, write_pact
from tests.e2e.harness import body, tag

CONTRACTS = e2e_reads.contracts()


def read_as_the_suites(version: str, expectation: Expectation, frame: Mapping[str, Any]) -> None:
    """What the suites do with a frame: name it with ``tag()``, read fields via ``body()``."""
    assert tag(frame) == e2e_reads.wire_name(version, expectation.message)
    fields = body(frame)
    for read in expectation.reads:
        if version != "v1" and read.path.startswith("$.data."):
            relative = dataclasses.replace(read, path="$." + read.path.removeprefix("$.data."))
            assert not check([relative], fields), f"body() misses {read}"
        else:
            assert not check([read], frame), f"the frame misses {read}"


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test__e2e_suites__read_every_declared_message_and_publish_the_pact(
    contract: Contract, tmp_path: Path
) -> None:
    by_description = {e.description: e for e in contract.expectations}
    handled: list[str] = []

    def handler(raw: str | bytes | None, metadata: dict[str, object]) -> None:
        assert raw is not None
        expectation = by_description[str(metadata["expectation"])]
        read_as_the_suites(contract.version, expectation, json.loads(str(raw)))
        handled.append(expectation.description)

    pact = to_pact(contract)
    pact.verify(handler, "Async")
    assert sorted(handled) == sorted(by_description)
    changed = publish(write_pact(contract, tmp_path), pact_path(contract))
    assert changed is None or changed.startswith("updated"), changed


@pytest.mark.parametrize("version", ["v1", "v2"])
def test__old_suites__read_the_seeds_welcome_shapes(version: str) -> None:
    """The seed's two consumer checks, exactly: v1 flat ``event``, v2 ``system_message``."""
    welcome = next(e for e in e2e_reads.contracts() if e.version == version).expectations[0]
    declared = {str(read) for read in welcome.reads}
    if version == "v1":
        assert {'$.event="connection_established"', "$.connection_ready=true"} <= declared
    else:
        assert {
            '$.type="system_message"',
            '$.data.event="connection_established"',
            "$.data.connection_ready=true",
        } <= declared


def test__suite_reader__refuses_a_frame_of_another_version() -> None:
    """The v1 suites cannot read the v2 welcome (the incident): the consumer check says so."""
    welcome = e2e_reads.v1().expectations[0]
    v2_frame = {
        "type": "system_message",
        "data": {"event": "connection_established", "connection_ready": True, "user_id": "u"},
    }
    with pytest.raises(AssertionError):
        read_as_the_suites("v1", welcome, v2_frame)
