"""Provider verification: the real server against every consumer's contract, every version.

One gateway subprocess for the module (``capture``): it is driven until it has
sent every message type of every version, then stopped with SIGTERM. Every
contract under ``contracts/`` is verified against those frames: the pacts in
one pact Verifier run, the JSON contracts by :mod:`agentsocket.protocol.contracts`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsocket.protocol import ProtocolError, decode_server
from agentsocket.protocol.contracts import Contract, Expectation, Read
from agentsocket.protocol.schema import server_types
from agentsocket.protocol.versions import VERSIONS
from tests.contracts import e2e_reads, sdk_reads, web_reads
from tests.contracts.capture import Captured, capture
from tests.contracts.pacts import CONTRACTS_DIR, write_pact
from tests.contracts.provider import is_json_contract, is_pact, verify_json, verify_pacts


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    return capture(tmp_path_factory.mktemp("contracts-provider"))


def contract_files() -> list[Path]:
    return sorted(CONTRACTS_DIR.glob("*.json"))


def test__contracts__one_file_per_consumer_and_version() -> None:
    expected = {
        *(f"{c.name}-agentsocket.json" for c in e2e_reads.contracts() + sdk_reads.contracts()),
        web_reads.contract_path().name,
    }
    assert {path.name for path in contract_files()} == expected


def test__server__sent_every_message_type_of_every_version(captured: Captured) -> None:
    for version in VERSIONS:
        assert set(captured.frames[version.name]) == set(server_types(version)), version.name


def test__server__every_frame_is_a_catalogue_message_of_its_version(captured: Captured) -> None:
    for version, by_type in captured.frames.items():
        for message, frames in by_type.items():
            for frame in frames:
                decoded = decode_server(json.dumps(frame), version)
                assert not isinstance(decoded, ProtocolError), (version, frame, decoded)
                assert message == decoded.message.TYPE


def test__pacts__every_consumer_every_version_verified_against_real_frames(
    captured: Captured,
) -> None:
    files = [path for path in contract_files() if is_pact(path)]
    assert len(files) == 6
    outcome = verify_pacts(files, captured)
    assert outcome.checked == sum(
        len(json.loads(path.read_text())["interactions"]) for path in files
    )
    assert outcome.ok, outcome.report()


def test__json_contracts__verified_on_every_real_frame(captured: Captured) -> None:
    files = [path for path in contract_files() if is_json_contract(path)]
    assert files
    for path in files:
        outcome = verify_json(Contract.from_json(json.loads(path.read_text())), captured)
        assert outcome.checked > 0
        assert outcome.ok, f"{path.name}\n{outcome.report()}"


def _wrong(consumer: str, version: str, *expectations: Expectation) -> Contract:
    return Contract(consumer, version, expectations)


def _expect(message: str, *reads: str) -> Expectation:
    return Expectation(message, tuple(Read.parse(read) for read in reads))


WRONG_PACTS = {
    # The incident inverted: a v1 client reading the v2 envelope.
    ("inverted-v1", "connection_established"): _wrong(
        "inverted",
        "v1",
        _expect(
            "connection_established",
            '$.type="system_message"',
            '$.data.event="connection_established"',
            "$.data.connection_ready=true",
        ),
    ),
    # The incident itself: a v2 client still reading the flat v1 welcome.
    ("flat-v2", "connection_established"): _wrong(
        "flat",
        "v2",
        _expect(
            "connection_established", '$.event="connection_established"', "$.connection_ready=true"
        ),
    ),
    # A field the producer does not send, and a field of the wrong kind.
    ("phantom-v3", "agent_completed"): _wrong(
        "phantom",
        "v3",
        _expect("agent_completed", '$.type="agent_completed"', "$.data.tokens_used:integer"),
        _expect("pong", '$.type="pong"', "$.data.server_time:string"),
    ),
}


def test__wrong_contracts__fail_verification_naming_the_field(
    captured: Captured, tmp_path: Path
) -> None:
    files = [write_pact(contract, tmp_path) for contract in WRONG_PACTS.values()]
    outcome = verify_pacts(files, captured)
    assert outcome.checked == 4
    assert set(outcome.failures) == {
        ("inverted-v1", "connection_established"),
        ("flat-v2", "connection_established"),
        ("phantom-v3", "agent_completed"),
        ("phantom-v3", "pong"),
    }
    inverted = " ".join(outcome.failures["inverted-v1", "connection_established"])
    assert "missing the following keys: data, type" in inverted
    flat = " ".join(outcome.failures["flat-v2", "connection_established"])
    assert "connection_ready, event" in flat
    assert "tokens_used" in " ".join(outcome.failures["phantom-v3", "agent_completed"])
    assert "$.data.server_time" in " ".join(outcome.failures["phantom-v3", "pong"])


def test__wrong_json_contract__fails_on_real_frames(captured: Captured) -> None:
    wrong = _wrong(
        "web-wrong",
        "v3",
        _expect("connection_established", '$.event="connection_established"'),
        _expect("thread_list", "$.data.threads[*].name:string"),
        _expect("tool_approval_required", '$.type="tool_approval_required"'),
    )
    outcome = verify_json(wrong, captured)
    assert set(outcome.failures) == {
        ("web-wrong-v3", "connection_established"),
        ("web-wrong-v3", "thread_list"),
    }
    assert "$.event: missing" in outcome.failures["web-wrong-v3", "connection_established"][0]
    assert "threads[0].name: missing" in outcome.failures["web-wrong-v3", "thread_list"][0]


def test__contract_about_a_message_never_sent__fails(captured: Captured) -> None:
    """A consumer waiting for a message its version cannot carry is told so."""
    wrong = _wrong("waiting", "v2", _expect("tool_approval_required", "$.data.tool_call_id:string"))
    outcome = verify_json(wrong, captured)
    assert outcome.failures == {
        ("waiting-v2", "tool_approval_required"): [
            "the server never sent a v2 tool_approval_required"
        ]
    }
