"""The browser client as a consumer: its reads, found in its TypeScript by the type checker.

Without node and ``node_modules`` (``npm ci``) these tests skip locally and
fail under ``CI=true``, like the service fixtures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from agentsocket.protocol.contracts import Contract, check
from agentsocket.protocol.schema import server_types
from tests.contracts import web_reads
from tests.contracts.pacts import example, publish


@pytest.fixture(scope="module")
def contract() -> Contract:
    missing = web_reads.missing_tools()
    if missing is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"cannot read the browser client's contract: {missing}")
        pytest.skip(missing)
    return web_reads.contract(web_reads.extract())


def test__web_contract__is_published(contract: Contract, tmp_path: Path) -> None:
    written = tmp_path / web_reads.contract_path().name
    written.write_text(json.dumps(contract.to_json()))
    changed = publish(written, web_reads.contract_path())
    assert changed is None or changed.startswith("updated"), changed
    assert Contract.from_json(json.loads(web_reads.contract_path().read_text())) == contract


def test__web_client__reads_only_v3_messages_by_their_v3_tags(contract: Contract) -> None:
    assert contract.messages <= set(server_types("v3"))
    for expectation in contract.expectations:
        tags = [read for read in expectation.reads if read.path == "$.type"]
        assert [read.equals for read in tags] == [expectation.message], expectation.message


def test__web_client__reads_what_its_app_shows(contract: Contract) -> None:
    """A sample of reads found in app.ts and client.ts, so the extraction stays honest."""
    declared = {(e.message, str(read)) for e in contract.expectations for read in e.reads}
    assert ("server_shutdown", "$.data.reconnect_after:number") in declared
    assert ("connection_established", "$.data.heartbeat_interval:null|number") in declared
    assert ("stream_gap", "$.data.to_seq:number") in declared
    assert ("agent_started", "$.data.parent_run_id:null|string") in declared
    assert ("thread_list", "$.data.threads[*].title:null|string") in declared


def test__web_client__can_read_the_v3_golden_examples(contract: Contract) -> None:
    for expectation in contract.expectations:
        frame = example("v3", expectation.message)
        assert not check(expectation.reads, frame), expectation.message
