"""One gateway subprocess per module for the e2e suites (starting one costs ~1 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import ServerProcess, run_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(
        tmp_path_factory.mktemp("gateway"),
        env={
            "AGENTSOCKET_RATE_PER_CONNECTION": "200",
            "AGENTSOCKET_BURST_PER_CONNECTION": "400",
            "AGENTSOCKET_RATE_PER_USER": "400",
            "AGENTSOCKET_BURST_PER_USER": "800",
        },
    ) as process:
        yield process
