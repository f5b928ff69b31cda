"""The README's "Talking to it", followed literally against a real ``agentsocket serve --dev``.

The README's addresses are the default ``127.0.0.1:8765``; the tests run the
gateway on a free port and change only the address.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ServerProcess, run_server

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLE = ROOT / "docs" / "examples" / "client" / "ten_lines.py"
ANSWER = "17*23 = 391, which is 0x187 in hexadecimal."
DEFAULT_ADDRESS = "127.0.0.1:8765"


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


TALKING = _section("Talking to it")


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("readme"), args=["--dev"]) as server:
        yield server


def test__readme__shows_the_whole_python_example() -> None:
    assert f"```python\n{EXAMPLE.read_text()}```" in TALKING


def test__python_example__prints_the_streamed_answer(
    dev_server: ServerProcess, tmp_path: Path
) -> None:
    source = EXAMPLE.read_text()
    assert source.count(DEFAULT_ADDRESS) == 1
    talk = tmp_path / "talk.py"
    talk.write_text(source.replace(DEFAULT_ADDRESS, f"127.0.0.1:{dev_server.port}"))

    done = subprocess.run(
        [sys.executable, str(talk)], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout == ANSWER + "\n"


def test__terminal_command__is_the_one_the_banner_prints(dev_server: ServerProcess) -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", TALKING, re.DOTALL)
    assert commands == [".venv/bin/agentsocket chat"]
    # The harness starts `python -m agentsocket serve`; serve.sh starts .venv/bin/agentsocket.
    assert re.search(r"chat in a terminal: +\S+ -m agentsocket chat ws://", dev_server.log())
    assert f"chat in your browser:  {dev_server.http}/" in dev_server.log()


def test__piped_terminal_chat__streams_the_answer(dev_server: ServerProcess) -> None:
    piped = "echo 'what is 17*23 in hex?' | .venv/bin/agentsocket chat"
    assert f"`{piped}`" in TALKING
    done = subprocess.run(
        [sys.executable, "-m", "agentsocket", "chat", dev_server.ws],
        input="what is 17*23 in hex?\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert f"demo: {ANSWER}" in done.stdout


def test__web_page__served_at_the_readme_address(dev_server: ServerProcess) -> None:
    assert f"<http://{DEFAULT_ADDRESS}/>" in TALKING
    page = httpx.get(f"{dev_server.http}/", timeout=10)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
