"""Consumer contracts: what a consumer reads of each server message, checked on frames. Pure.

A :class:`Contract` belongs to one consumer and one protocol version. It lists
:class:`Expectation` s, one per message the consumer reads (or per variant of
one, picked by ``where``), each a list of :class:`Read` s: a JSON path and what
the consumer needs there. :func:`check` says which reads a real frame breaks::

    >>> welcome = Expectation(
    ...     "connection_established",
    ...     reads=(Read.parse('$.event="connection_established"'),
    ...            Read.parse("$.connection_ready=true")),
    ... )
    >>> [str(m) for m in check(welcome.reads, {"type": "system_message", "data": {}})]
    ['$.event: missing', '$.connection_ready: missing']

Paths are ``$``, ``.name``, ``[N]`` (one element) and ``[*]`` (every element:
the read holds for each). The declaration syntax of :meth:`Read.parse`:
``path`` (present, any value), ``path:string|null`` (JSON kinds), ``path=<JSON>``
(exactly this value) and ``path~<regex>`` (a string matching it). Contracts of
consumers that cannot run pact are stored as :meth:`Contract.to_json`
(``docs/contracts.md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

FORMAT: Final = "agentsocket-contract/1"
KINDS: Final = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
Kind = Literal["string", "number", "integer", "boolean", "null", "object", "array"]

_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\*|\d+)\]")
_DECLARATION = re.compile(r"^(?P<path>\$[^:=~]*)(?:(?P<op>[:=~])(?P<rest>.*))?$", re.DOTALL)


class _Missing:
    """The sentinel for "this read has no exact value"."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _Missing()


def kind_of(value: Any) -> Kind:
    """The JSON kind of a decoded JSON value (``integer`` for whole numbers)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def _accepts(kinds: frozenset[str], value: Any) -> bool:
    kind = kind_of(value)
    return kind in kinds or (kind == "integer" and "number" in kinds)


def split_path(path: str) -> list[str | int | None]:
    """``$.data.items[*].id`` → ``["data", "items", None, "id"]`` (``None`` is ``[*]``).

    Raises:
        ValueError: not a path of this language.
    """
    if not path.startswith("$"):
        raise ValueError(f"a path starts with $: {path!r}")
    segments: list[str | int | None] = []
    position = 1
    for found in _SEGMENT.finditer(path, 1):
        if found.start() != position:
            break
        name, index = found.groups()
        segments.append(name if name is not None else (None if index == "*" else int(index)))
        position = found.end()
    if position != len(path):
        raise ValueError(f"bad path {path!r} at {path[position:]!r}")
    return segments


def join_path(segments: Sequence[str | int | None]) -> str:
    """The inverse of :func:`split_path`."""
    parts = ["$"]
    for segment in segments:
        if segment is None:
            parts.append("[*]")
        elif isinstance(segment, int):
            parts.append(f"[{segment}]")
        else:
            parts.append(f".{segment}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Read:
    """One thing a consumer reads: a path, and what it needs there.

    Attributes:
        path: where, e.g. ``$.data.thread.title`` or ``$.data.threads[*].title``.
        kinds: the JSON kinds the consumer accepts there (``number`` accepts
            integers); empty: any value, but the key must be there.
        equals: the exact value the consumer needs (a tag, a constant), or ``NO_VALUE``.
        pattern: a regex a string must match (``re.fullmatch``), e.g. ISO 8601 times.
        note: where in the consumer the read happens; not part of the check.
    """

    path: str
    kinds: frozenset[str] = frozenset()
    equals: Any = NO_VALUE
    pattern: str | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        split_path(self.path)
        unknown = self.kinds - KINDS
        if unknown:
            raise ValueError(f"{self.path}: unknown kinds {sorted(unknown)}")
        if self.equals is not NO_VALUE and not self.kinds:
            object.__setattr__(self, "kinds", frozenset({kind_of(self.equals)}))
        if self.pattern is not None:
            re.compile(self.pattern)
            if not self.kinds:
                object.__setattr__(self, "kinds", frozenset({"string"}))

    @classmethod
    def parse(cls, declaration: str, note: str = "") -> Read:
        """A read from its declaration: ``path``, ``path:k1|k2``, ``path=<JSON>``, ``path~<regex>``.

        Raises:
            ValueError: a malformed declaration.
        """
        found = _DECLARATION.match(declaration.strip())
        if found is None:
            raise ValueError(f"bad read declaration {declaration!r}")
        path, op, rest = found.group("path", "op", "rest")
        if op is None:
            return cls(path, note=note)
        if op == ":":
            return cls(path, frozenset(rest.split("|")), note=note)
        if op == "=":
            return cls(path, equals=json.loads(rest), note=note)
        return cls(path, pattern=rest, note=note)

    def __str__(self) -> str:
        if self.equals is not NO_VALUE:
            return f"{self.path}={json.dumps(self.equals)}"
        if self.pattern is not None:
            return f"{self.path}~{self.pattern}"
        return f"{self.path}:{'|'.join(sorted(self.kinds))}" if self.kinds else self.path

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kinds": sorted(self.kinds)}
        if self.equals is not NO_VALUE:
            out["equals"] = self.equals
        if self.pattern is not None:
            out["pattern"] = self.pattern
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Read:
        return cls(
            path=data["path"],
            kinds=frozenset(data.get("kinds", ())),
            equals=data.get("equals", NO_VALUE),
            pattern=data.get("pattern"),
            note=data.get("note", ""),
        )


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A read a frame breaks: the concrete path and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def resolve(frame: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every concrete path ``path`` names in ``frame``, with its value or ``NO_VALUE``.

    ``[*]`` expands to each element; a missing step yields its path with ``NO_VALUE``.
    A path does not reach below a JSON ``null``: that frame has nothing there to
    read, and the read of the nullable value itself (``$.data.usage:null|object``)
    says whether ``null`` is acceptable.
    """
    stack: list[tuple[list[str | int | None], Any, list[str | int | None]]] = [
        ([], frame, split_path(path))
    ]
    while stack:
        done, value, todo = stack.pop(0)
        if not todo:
            yield join_path(done), value
            continue
        step, rest = todo[0], todo[1:]
        if value is None and done:
            continue
        if step is None:
            if not isinstance(value, list):
                yield join_path(done), _NOT_ARRAY
                continue
            stack[0:0] = [([*done, i], item, rest) for i, item in enumerate(value)]
        elif isinstance(step, int):
            if isinstance(value, list) and 0 <= step < len(value):
                stack.insert(0, ([*done, step], value[step], rest))
            else:
                yield join_path([*done, step]), NO_VALUE
        elif isinstance(value, dict) and step in value:
            stack.insert(0, ([*done, step], value[step], rest))
        else:
            yield join_path([*done, step]), NO_VALUE


class _NotArray:
    def __repr__(self) -> str:
        return "NOT_AN_ARRAY"


_NOT_ARRAY: Final = _NotArray()


def check_read(read: Read, frame: Any) -> list[Mismatch]:
    """How ``frame`` breaks one read (empty: it does not)."""
    mismatches = []
    for concrete, value in resolve(frame, read.path):
        if value is NO_VALUE:
            mismatches.append(Mismatch(concrete, "missing"))
        elif value is _NOT_ARRAY:
            mismatches.append(Mismatch(concrete, "expected an array"))
        elif read.kinds and not _accepts(read.kinds, value):
            wanted = "|".join(sorted(read.kinds))
            mismatches.append(Mismatch(concrete, f"expected {wanted}, got {_show(value)}"))
        elif read.equals is not NO_VALUE and (
            value != read.equals or kind_of(value) != kind_of(read.equals)
        ):
            expected = json.dumps(read.equals)
            mismatches.append(Mismatch(concrete, f"expected {expected}, got {_show(value)}"))
        elif (
            read.pattern is not None
            and isinstance(value, str)
            and not re.fullmatch(read.pattern, value)
        ):
            mismatches.append(Mismatch(concrete, f"{_show(value)} does not match {read.pattern}"))
    return mismatches


def check(reads: Sequence[Read], frame: Any) -> list[Mismatch]:
    """Every read of ``reads`` that ``frame`` breaks."""
    return [mismatch for read in reads for mismatch in check_read(read, frame)]


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a consumer reads of one message type (or of one variant of it).

    Attributes:
        message: the message type as the head catalogue names it (``agent_message``
            even where v2 calls it ``final_report``).
        reads: what the consumer reads; every frame it is given must satisfy them.
        where: which frames of that type this is about (a provider state): those
            these reads accept, e.g. ``$.data.parent_run_id:string`` for sub-agent runs.
        note: where the consumer reads it.
    """

    message: str
    reads: tuple[Read, ...]
    where: tuple[Read, ...] = ()
    note: str = field(default="", compare=False)

    @property
    def description(self) -> str:
        """A name unique within a contract: the message, and the variant if any."""
        if not self.where:
            return self.message
        return f"{self.message} where {', '.join(str(read) for read in self.where)}"

    def selects(self, frame: Any) -> bool:
        """Whether ``frame`` (of this message type) is one this expectation is about."""
        return not check(self.where, frame)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.where:
            out["where"] = [read.to_json() for read in self.where]
        out["reads"] = [read.to_json() for read in self.reads]
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Expectation:
        return cls(
            message=data["message"],
            reads=tuple(Read.from_json(read) for read in data["reads"]),
            where=tuple(Read.from_json(read) for read in data.get("where", ())),
            note=data.get("note", ""),
        )


@dataclass(frozen=True, slots=True)
class Contract:
    """What one consumer reads of the messages of one protocol version."""

    consumer: str
    version: str
    expectations: tuple[Expectation, ...]
    provider: str = "agentsocket"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for expectation in self.expectations:
            if expectation.description in seen:
                raise ValueError(f"{self.name}: {expectation.description!r} declared twice")
            seen.add(expectation.description)

    @property
    def name(self) -> str:
        """``<consumer>-<version>``, the consumer's name in a pact."""
        return f"{self.consumer}-{self.version}"

    @property
    def messages(self) -> frozenset[str]:
        """The message types this contract reads."""
        return frozenset(expectation.message for expectation in self.expectations)

    def to_json(self) -> dict[str, Any]:
        """The contract in the JSON format of consumers that cannot run pact."""
        return {
            "format": FORMAT,
            "consumer": {"name": self.consumer},
            "provider": {"name": self.provider},
            "version": self.version,
            "expectations": [expectation.to_json() for expectation in self.expectations],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Contract:
        """Read :meth:`to_json`'s output.

        Raises:
            ValueError: another format.
        """
        if data.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} document: format={data.get('format')!r}")
        return cls(
            consumer=cast(str, data["consumer"]["name"]),
            version=cast(str, data["version"]),
            expectations=tuple(Expectation.from_json(e) for e in data["expectations"]),
            provider=cast(str, data["provider"]["name"]),
        )
