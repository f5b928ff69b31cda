"""Contracts as pact V4 message pacts, and the files under ``contracts/``.

A consumer's :class:`Contract` becomes one ``Asynchronous/Messages`` pact: an
interaction per expectation, whose body is the version's golden example of
the message cut down to what the consumer reads, with a matcher per read
(exact value, regex, or type). The provider state is ``protocol <version>``
with the message type and the ``where`` reads as parameters; the provider
verification picks a real frame by them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pact import Pact, match

from agentsocket.protocol.contracts import (
    NO_VALUE,
    Contract,
    Expectation,
    Read,
    kind_of,
    split_path,
)
from agentsocket.protocol.golden import golden_frames

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # no usage tracking, no outbound connects

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = ROOT / "contracts"
PROVIDER = "agentsocket"
CONTENT_TYPE = "application/json"

_PLACEHOLDERS: dict[str, Any] = {
    "string": "text",
    "integer": 1,
    "number": 1.5,
    "boolean": True,
    "null": None,
    "object": {},
    "array": [],
}


@cache
def _golden() -> dict[str, bytes]:
    return golden_frames()


def example(version: str, message: str) -> dict[str, Any]:
    """The golden example of ``message`` in ``version``.

    Raises:
        KeyError: ``version`` cannot express ``message``.
    """
    frame: dict[str, Any] = json.loads(_golden()[f"{version}/server/{message}.json"])
    return frame


# --- bodies with matchers -----------------------------------------------------------------


class _Node:
    """A structure in a body: an ``object``, an ``each`` (``[*]``) or a fixed ``list``."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.children: dict[str | int | None, _Node | _Leaf] = {}


class _Leaf:
    def __init__(self, value: Any) -> None:
        self.value = value


def _value_at(frame: Any, segments: list[str | int | None]) -> Any:
    for segment in segments:
        key: str | int = 0 if segment is None else segment
        in_object = isinstance(key, str) and isinstance(frame, dict) and key in frame
        in_array = isinstance(key, int) and isinstance(frame, list) and key < len(frame)
        if not (in_object or in_array):
            return NO_VALUE
        frame = frame[key]
    return frame


def matcher(read: Read, sample: Any) -> Any:
    """The pact value for one read: the value itself, a regex or a type matcher.

    ``sample`` is the example's value there (``NO_VALUE`` if it has none).

    Raises:
        ValueError: the read needs "any of several kinds", which a pact cannot say.
    """
    if read.equals is not NO_VALUE:
        return read.equals
    if read.pattern is not None:
        if not isinstance(sample, str):
            raise ValueError(f"{read.path}: no example string for the pattern")
        return match.regex(sample, regex=read.pattern)
    if len(read.kinds) != 1:
        raise ValueError(
            f"{read.path}: a pact states one kind per read, not {sorted(read.kinds) or 'any'}; "
            "declare one variant per kind with `where`"
        )
    (kind,) = read.kinds
    if sample is NO_VALUE or (
        kind_of(sample) != kind and not (kind == "number" and kind_of(sample) == "integer")
    ):
        sample = _PLACEHOLDERS[kind]
    factories: dict[str, Callable[[Any], Any]] = {
        "string": match.str,
        "integer": match.int,
        "number": match.number,
        "boolean": match.bool,
        "null": lambda _: match.none(),
        "object": lambda _: match.type({}),  # a map; its keys are other reads' business
        "array": lambda _: match.type([]),
    }
    return factories[kind](sample)


def body(expectation: Expectation, sample: dict[str, Any]) -> Any:
    """The pact body of ``expectation``: ``sample`` cut down to its reads, with matchers.

    A read inside another (``$.data`` and ``$.data.run_id``) makes the outer one
    a structure, not a leaf; ``[*]`` becomes ``each_like`` and ``[N]`` a list
    of N+1 elements (an exact length, as pact compares plain lists).
    """
    root = _Node("object")
    for read in sorted(expectation.reads, key=lambda r: len(split_path(r.path))):
        segments = split_path(read.path)
        if not segments:
            raise ValueError("a read of the whole frame says nothing")
        node = root
        for depth, segment in enumerate(segments[:-1]):
            following = segments[depth + 1]
            kind = (
                "each" if following is None else "list" if isinstance(following, int) else "object"
            )
            child = node.children.get(segment)
            if not isinstance(child, _Node):  # a structure replaces a read of the whole
                child = node.children[segment] = _Node(kind)
            elif child.kind != kind:
                raise ValueError(f"{read.path}: other reads make this a {child.kind}")
            node = child
        # A structure already there says more than a read of the whole.
        node.children.setdefault(segments[-1], _Leaf(matcher(read, _value_at(sample, segments))))
    return _render(root)


def _render(node: _Node | _Leaf) -> Any:
    if isinstance(node, _Leaf):
        return node.value
    if node.kind == "each":
        return match.each_like(_render(node.children[None]), min=1)
    if node.kind == "list":
        size = 1 + max(key for key in node.children if isinstance(key, int))
        return [_render(node.children.get(i, _Node("object"))) for i in range(size)]
    return {key: _render(child) for key, child in node.children.items()}


# --- pacts and files ------------------------------------------------------------------------


def provider_state(contract: Contract, expectation: Expectation) -> tuple[str, dict[str, Any]]:
    """The provider state of an interaction: the version, the message type, the variant."""
    params: dict[str, Any] = {"message": expectation.message}
    if expectation.where:
        params["where"] = [read.to_json() for read in expectation.where]
    return f"protocol {contract.version}", params


def metadata(message: str, description: str) -> dict[str, object]:
    """A message's metadata: its type, and which expectation it answers (for routing)."""
    return {"message": message, "expectation": description}


def to_pact(contract: Contract) -> Pact:
    """The contract as a V4 message pact (consumer ``<consumer>-<version>``)."""
    pact = Pact(contract.name, contract.provider).with_specification("V4")
    for expectation in contract.expectations:
        state, params = provider_state(contract, expectation)
        interaction = (
            pact.upon_receiving(expectation.description, "Async")
            .given(state, params)
            .with_body(
                body(expectation, example(contract.version, expectation.message)), CONTENT_TYPE
            )
            .with_metadata(metadata(expectation.message, expectation.description))
        )
        if expectation.note:
            interaction.add_text_comment(expectation.note)
    return pact


def pact_path(contract: Contract, directory: Path = CONTRACTS_DIR) -> Path:
    return directory / f"{contract.name}-{contract.provider}.json"


def read_pact(path: Path) -> list[tuple[str, str, str]]:
    """(version, message, description) of each interaction of a pact file of ours."""
    document = json.loads(path.read_text())
    found = []
    for interaction in document["interactions"]:
        state = interaction["providerStates"][0]
        found.append(
            (
                state["name"].removeprefix("protocol "),
                state["params"]["message"],
                interaction["description"],
            )
        )
    return found


def write_pact(contract: Contract, directory: Path) -> Path:
    """Write the contract's pact into ``directory``; its path."""
    to_pact(contract).write_file(directory, overwrite=True)
    return pact_path(contract, directory)


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A pact without the writer's library versions, which say nothing about the contract."""
    return {key: value for key, value in document.items() if key != "metadata"} | {
        "specification": document.get("metadata", {}).get("pactSpecification")
    }


def publish(written: Path, committed: Path) -> str | None:
    """Bring ``written`` (a fresh file) to ``committed``.

    Locally the committed file is replaced when it differs; under ``CI=true``
    a difference is an error instead (the contracts are reviewed artefacts).

    Returns:
        ``None`` when nothing changed, else what happened (or, in CI, the error).
    """
    new = json.loads(written.read_text())
    old = json.loads(committed.read_text()) if committed.exists() else None
    is_pact = "interactions" in new
    same = old is not None and (_comparable(old) == _comparable(new) if is_pact else old == new)
    if same:
        return None
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        return (
            f"{committed.relative_to(ROOT)} is out of date with its consumer: run "
            "`.venv/bin/pytest tests/contracts` locally and commit the contracts"
        )
    committed.parent.mkdir(parents=True, exist_ok=True)
    committed.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n")
    return f"updated {committed.relative_to(ROOT)}"
