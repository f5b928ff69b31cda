"""The Python SDK as a consumer: its decoder and request routing handle what it declares.

The SDK's reads are derived from its own decoder (``sdk_reads``); pact hands
each example to :func:`decode_server` of that version, then to the SDK's
resume cursor (stream messages) and request router (replies).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentsocket.client.requests import Pending, Requests, reply
from agentsocket.client.stream import StreamCursor
from agentsocket.protocol import ClientEnvelope, ProtocolError, decode_server
from agentsocket.protocol.client_messages import Ping
from agentsocket.protocol.contracts import Contract, split_path
from agentsocket.protocol.schema import server_types
from agentsocket.protocol.versions import VERSIONS
from tests.contracts import sdk_reads
from tests.contracts.pacts import example, pact_path, publish, to_pact, write_pact

CONTRACTS = sdk_reads.contracts()


def read_as_the_sdk(version: str, message: str, raw: str | bytes) -> None:
    """Decode as the SDK does; stream messages move its cursor, replies answer their request."""
    decoded = decode_server(raw, version)
    assert not isinstance(decoded, ProtocolError), decoded
    assert message == decoded.message.TYPE
    if decoded.message.STREAM:
        cursor = StreamCursor()
        assert cursor.accept(decoded)
        assert cursor.last_seq == decoded.seq
    if message in sdk_reads.REPLIES:
        assert decoded.correlation_id is not None
        requests = Requests()
        pending = Pending(
            ClientEnvelope(Ping(), decoded.correlation_id),
            "",
            reply(type(decoded.message), decoded.correlation_id),
            resend=False,
        )
        requests.add(pending)
        outcomes, _ = requests.route(decoded)
        assert [p for p, _ in outcomes] == [pending], f"{message} did not answer its request"


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test__sdk__reads_every_message_of_its_version_and_publishes_the_pact(
    contract: Contract, tmp_path: Path
) -> None:
    handled: list[str] = []

    def handler(raw: str | bytes | None, metadata: dict[str, object]) -> None:
        assert raw is not None
        read_as_the_sdk(contract.version, str(metadata["message"]), str(raw))
        handled.append(str(metadata["message"]))

    to_pact(contract).verify(handler, "Async")
    assert sorted(handled) == sorted(e.message for e in contract.expectations)
    changed = publish(write_pact(contract, tmp_path), pact_path(contract))
    assert changed is None or changed.startswith("updated"), changed


@pytest.mark.parametrize("version", [v.name for v in VERSIONS])
def test__sdk_contract__covers_every_message_its_version_can_carry(version: str) -> None:
    assert sdk_reads.contract(version).messages == set(server_types(version))


@pytest.mark.parametrize("version", [v.name for v in VERSIONS])
def test__sdk_contract__each_read_is_one_the_decoder_cannot_do_without(version: str) -> None:
    """Drop any declared decoder read from the example: the SDK's decoder refuses it."""
    for expectation in sdk_reads.contract(version).expectations:
        frame = example(version, expectation.message)
        for read in expectation.reads:
            if read.path in {"$.seq", "$.correlation_id"}:
                continue  # read by the SDK itself, not by the decoder
            broken = sdk_reads.without(frame, split_path(read.path))
            decoded = decode_server(json.dumps(broken), version)
            assert isinstance(decoded, ProtocolError), f"{version} {expectation.message}: {read}"
