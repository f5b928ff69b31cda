"""The AG-UI dialect's AsyncAPI document: accepted by the official parser, true to what is sent."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from agentsocket.protocol.ag_ui import RunConverter, encode_event
from agentsocket.protocol.ag_ui_schema import EMITTED, custom_values, dialect_schema
from agentsocket.protocol.asyncapi_ag_ui import (
    AG_UI_ASYNCAPI_DOC,
    INPUT,
    STOP,
    SUBPROTOCOL,
    ag_ui_asyncapi_document,
)
from tests.protocol.test_ag_ui_mapping import RUN, scenarios
from tests.protocol.test_docs import DOCS, _validate

DOCUMENT: dict[str, Any] = ag_ui_asyncapi_document()
EVENT_TYPES = sorted(cls.model_fields["type"].default.value for cls in EMITTED)


def _names(refs: list[dict[str, str]]) -> list[str]:
    return [ref["$ref"].rsplit("/", 1)[-1] for ref in refs]


def _validator(message: str) -> jsonschema.Draft202012Validator:
    payload = DOCUMENT["components"]["messages"][message]["payload"]
    return jsonschema.Draft202012Validator({**payload, "components": DOCUMENT["components"]})


def test__ag_ui_asyncapi_doc__passes_the_official_parser() -> None:
    file = DOCS / AG_UI_ASYNCAPI_DOC
    result = _validate(file)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{file}: valid AsyncAPI 3.0.0" in result.stdout


def test__ws_channel__ag_ui_subprotocol__events_out_run_agent_input_in() -> None:
    channel = DOCUMENT["channels"]["ws"]
    send = DOCUMENT["operations"]["sendAgUiEvents"]
    receive = DOCUMENT["operations"]["receiveRunAgentInput"]

    assert channel["address"] == "/ws"
    assert SUBPROTOCOL == "agentsocket.ag-ui"
    offer = channel["bindings"]["ws"]["headers"]["properties"]["Sec-WebSocket-Protocol"]
    assert SUBPROTOCOL in offer["description"]
    assert (send["action"], send["channel"]) == ("send", {"$ref": "#/channels/ws"})
    named = [f"ag-ui.CUSTOM.{name}" for name in sorted(custom_values())]
    assert sorted(_names(send["messages"])) == sorted([f"ag-ui.{t}" for t in EVENT_TYPES] + named)
    assert (receive["action"], _names(receive["messages"])) == ("receive", [INPUT, STOP])


def test__ws_named_custom_events_and_stop_frame__validate_only_their_own() -> None:
    position = {"type": "CUSTOM", "name": "agentsocket.position", "value": {"epoch": "e", "seq": 3}}
    stop = {"type": "CUSTOM", "name": "agentsocket.stop_agent", "value": {"runId": "run_1"}}

    _validator("ag-ui.CUSTOM.agentsocket.position").validate(position)
    _validator("ag-ui.CUSTOM").validate(position)  # the generic CUSTOM reads it too
    assert not _validator("ag-ui.CUSTOM.agentsocket.error").is_valid(position)
    _validator(STOP).validate(stop)
    assert not _validator(STOP).is_valid({**stop, "name": "agentsocket.position"})


def test__post_ag_ui__receive_with_http_post_binding__reply_is_the_events() -> None:
    operation = DOCUMENT["operations"]["receiveAgUiRun"]

    assert DOCUMENT["channels"]["agUiHttp"]["address"] == "/ag-ui"
    assert operation["action"] == "receive"
    assert operation["bindings"]["http"]["method"] == "POST"
    assert _names(operation["messages"]) == [INPUT]
    assert sorted(_names(operation["reply"]["messages"])) == [f"ag-ui.{t}" for t in EVENT_TYPES]
    headers = DOCUMENT["components"]["messages"][INPUT]["bindings"]["http"]["headers"]
    assert {"Authorization", "Last-Event-ID"} <= set(headers["properties"])


def test__payload_schemas__are_the_dialect_snapshot_source() -> None:
    defs = dialect_schema()["$defs"]
    schemas = DOCUMENT["components"]["schemas"]

    assert set(schemas) == set(defs)
    text = json.dumps(schemas)
    assert "#/$defs/" not in text
    assert '"discriminator": {' not in text  # AsyncAPI's schema format rejects the object form


def test__every_converted_event__valid_for_its_message_only() -> None:
    seen = set()
    for run in scenarios():
        converter = RunConverter(RUN, agui_run_id="client-run")
        for message in run:
            for event in converter.convert(message):
                wire = json.loads(encode_event(event))
                seen.add(wire["type"])
                _validator(f"ag-ui.{wire['type']}").validate(wire)
                other = "RUN_ERROR" if wire["type"] != "RUN_ERROR" else "RUN_STARTED"
                assert not _validator(f"ag-ui.{other}").is_valid(wire)
    assert sorted(seen) == EVENT_TYPES


def test__run_agent_input__valid_input_accepted_malformed_refused() -> None:
    good = {
        "threadId": "t-1",
        "runId": "r-1",
        "state": {},
        "messages": [{"id": "m-1", "role": "user", "content": "what is 17*23 in hex?"}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    validator = _validator(INPUT)

    validator.validate(good)
    assert not validator.is_valid({**good, "threadId": 5})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "messages"})


@pytest.mark.parametrize("name", ["sendAgUiEvents", "receiveRunAgentInput", "receiveAgUiRun"])
def test__operation_message_refs__resolve_to_their_channel(name: str) -> None:
    operation = DOCUMENT["operations"][name]
    channel = operation["channel"]["$ref"].rsplit("/", 1)[-1]
    for ref in operation["messages"]:
        assert ref["$ref"].startswith(f"#/channels/{channel}/messages/")
        assert ref["$ref"].rsplit("/", 1)[-1] in DOCUMENT["channels"][channel]["messages"]
