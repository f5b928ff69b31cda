"""``agentsocket chat`` as a user runs it: a subprocess with piped input, against a real gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ServerProcess, run_server


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("chat"), args=["--dev"]) as server:
        yield server


def chat(url: str, *args: str, lines: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENTSOCKET_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "agentsocket", "chat", url, *args],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("version", ["v1", "v3"])
def test__piped_question__tool_calls_answer_and_thread_list(
    dev_server: ServerProcess, version: str
) -> None:
    user = f"alice-{version}"
    done = chat(
        dev_server.ws,
        "--user",
        user,
        "--protocol",
        version,
        lines="what is 17*23 in hex?\n/threads\n/quit\n",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"connected as {user} (protocol {version})" in out
    assert "… Asking the calculator agent: 17*23 in hex" in out
    assert "  ↳ calculator" in out  # the sub-agent's run, indented
    assert '  ⚙ calculate(expression="17*23")' in out
    assert "  ✓ calculate → 391 (" in out
    assert '  ⚙ convert_base(number=391, base="hex")' in out
    assert '  ✓ convert_base → "0x187" (' in out
    assert "demo: 17*23 = 391, which is 0x187 in hexadecimal." in out
    assert out.count("17*23 = 391, which is 0x187 in hexadecimal.") == 1  # not the sub-agent's too
    threads = [line for line in out.splitlines() if line.startswith("* thr_")]
    assert len(threads) == 1
    assert "what is 17*23 in hex?" in threads[0]
    assert out.index("done in") < out.index("* thr_")  # the list came after the run


def test__stop_and_history__piped_in_order(dev_server: ServerProcess) -> None:
    done = chat(
        dev_server.ws,
        "--user",
        "bob",
        lines="take it slow\n/stop\n/history\n/quit\n",
    )
    assert done.returncode == 0, done.stderr
    # /stop acts as soon as the run is known: before or during its sleep tool (timing).
    assert "■ stopped: user_request" in done.stdout
    assert "agent:" not in done.stdout  # stopped before any answer
    assert "you: take it slow" in done.stdout


def test__question__answered_field_by_field_after_a_refused_answer(
    dev_server: ServerProcess,
) -> None:
    done = chat(
        dev_server.ws,
        "--user",
        "quinn",
        lines='a quick survey\n/answer rating=9\n/answer rating=4 comment="very neat"\n/quit\n',
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "? How would you rate this demo? (expires in 120 s)" in out
    assert "    rating (integer, ≥ 1, ≤ 5, required): Rating (1-5)" in out
    assert "    comment (string, at most 200 characters, optional): Comment" in out
    assert "refused: validation_failed: the answer does not satisfy the question's schema" in out
    assert "  $.data.answer.rating: 9 is greater than the maximum of 5" in out
    assert "↪ The question was answered." in out
    assert 'demo: Thanks: you rated it 4/5 and said "very neat".' in out
    assert out.index("refused:") < out.index("↪ The question was answered.")


def test__approval__with_edited_arguments(dev_server: ServerProcess) -> None:
    done = chat(
        dev_server.ws,
        "--user",
        "erin",
        lines='please approve this\n/approve {"text": "edited words"}\n/quit\n',
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(/approve {JSON} runs it with edited arguments)" in out
    assert "↪ announce was approved with edited arguments." in out
    assert '⚙ announce(text="edited words")' in out
    assert "demo: Approved, so I announce: EDITED WORDS" in out


def test__thread_option__continues_that_thread(dev_server: ServerProcess) -> None:
    first = chat(dev_server.ws, "--user", "dave", lines="what is 17*23 in hex?\n")
    assert first.returncode == 0, first.stderr
    thread = re.search(r"\(thread (thr_\w+)\)", first.stdout)
    assert thread is not None
    again = chat(dev_server.ws, "--user", "dave", "--thread", thread[1], lines="/history\n")
    assert again.returncode == 0, again.stderr
    assert "you: what is 17*23 in hex?" in again.stdout
    assert "agent: 17*23 = 391, which is 0x187 in hexadecimal." in again.stdout


def test__token_option__chats_with_that_token(dev_server: ServerProcess) -> None:
    done = chat(dev_server.ws, "--token", dev_server.token("carol"), lines="/threads\n")
    assert done.returncode == 0, done.stderr
    assert "connected as carol" in done.stdout
    assert "no threads yet" in done.stdout


def test__bad_token__refused_exit_1(dev_server: ServerProcess) -> None:
    done = chat(dev_server.ws, "--token", "not-a-jwt", lines="hello\n")
    assert done.returncode == 1
    assert "refused: malformed_token" in done.stdout
    assert "(4001)" in done.stdout


def test__user_without_dev_mode__explains_exit_1(server: ServerProcess) -> None:
    done = chat(server.ws, "--user", "mallory")
    assert done.returncode == 1
    assert "start it with --dev" in done.stderr


def test__no_options__dev_gateway__streams_an_answer_for_the_default_user(
    dev_server: ServerProcess,
) -> None:
    # The README's terminal step: `agentsocket chat` with nothing but the question piped in.
    done = chat(dev_server.ws, lines="what is 17*23 in hex?\n")
    assert done.returncode == 0, done.stderr
    assert "connected as dev-user (protocol v3)" in done.stdout
    assert "demo: 17*23 = 391, which is 0x187 in hexadecimal." in done.stdout
    assert "done in" in done.stdout


def test__no_options__gateway_without_dev_mode__explains_exit_1(server: ServerProcess) -> None:
    done = chat(server.ws)
    assert done.returncode == 1
    assert "start it with --dev" in done.stderr
    assert "--token" in done.stderr


def test__token_and_user__usage_exit_2() -> None:
    done = chat("ws://127.0.0.1:1/ws", "--token", "t", "--user", "bob")
    assert done.returncode == 2
    assert "not both" in done.stderr


def test__unknown_protocol__usage_exit_2() -> None:
    done = chat("ws://127.0.0.1:1/ws", "--token", "t", "--protocol", "v9")
    assert done.returncode == 2
    assert "choose v3, v2, v1" in done.stderr


def test__deprecated_version_option__still_picks_the_protocol(dev_server: ServerProcess) -> None:
    done = chat(dev_server.ws, "--version", "v2", lines="/threads\n")
    assert done.returncode == 0, done.stderr
    assert "(protocol v2)" in done.stdout
    assert "chat --version is deprecated: use --protocol" in done.stderr
