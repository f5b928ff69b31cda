"""Hostile client frames for every protocol version, and the oracle every frame must pass.

:class:`FrameFuzzer` derives frames from the golden client frames (``golden/``)
by mutation, plus hostile shapes made from scratch: random bytes, invalid
UTF-8, deep nesting, huge numbers, NUL, wrong types, unknown types, oversized
frames. It is seeded, so a failure is reproduced by its seed and index.

:func:`check_decode` is the in-process oracle: :func:`decode_client` must
return a :class:`ClientEnvelope` or a :class:`ProtocolError` with a documented
code, never raise. ``tests/security/test_fuzz.py`` runs a few thousand frames
in CI; ``scripts/fuzz.py`` runs the full form (100,000 and more).
"""

from __future__ import annotations

import json
import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentsocket.protocol import ClientEnvelope, ErrorCode, ProtocolError, decode_client
from agentsocket.protocol.codec import DEFAULT_MAX_FRAME_SIZE

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
VERSIONS = ("v1", "v2", "v3")
#: What ``decode_client`` may answer (docs/protocol: error codes of a refused frame).
DECODE_CODES = frozenset(
    {
        ErrorCode.TOO_LARGE,
        ErrorCode.INVALID_JSON,
        ErrorCode.NOT_AN_OBJECT,
        ErrorCode.UNKNOWN_TYPE,
        ErrorCode.VALIDATION_FAILED,
    }
)

Frame = str | bytes


def golden_frames(version: str) -> list[dict[str, Any]]:
    """The committed client frames of ``version`` (aliases included), as JSON objects."""
    root = GOLDEN / version
    paths = sorted((root / "client").glob("*.json")) + sorted(root.glob("client-aliases/*.json"))
    return [json.loads(path.read_text()) for path in paths]


_ODD_STRINGS = (
    "",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "é" * 70,
    "😀" * 40,
    "x" * 70_000,
    "\n\r\t",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "${jndi:ldap://x}",
)
_ODD_NUMBERS = (
    0,
    -1,
    2**53,
    2**63,
    2**64,
    10**23,
    -(10**30),
    1e20,
    -1e20,
    1e308,
    5e-324,
    0.1,
    -0.0,
    253402300800,
)
_RAW_NUMBERS = ("1e400", "-1e400", "NaN", "Infinity", "1" * 400, "0x10", "01", "1.", ".5")
_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80")


def _deep(depth: int, kind: str) -> str:
    opener, closer = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opener * depth + "1" + closer * depth


class FrameFuzzer:
    """Seeded generator of hostile frames for one version."""

    def __init__(self, version: str, seed: int) -> None:
        self.version = version
        self.random = random.Random(f"{version}:{seed}")
        self.golden = golden_frames(version)
        self.types = sorted({str(f.get("type", f.get("event"))) for f in self.golden})
        self._makers: list[Callable[[], Frame]] = [
            self.random_bytes,
            self.invalid_utf8,
            self.byte_mutation,
            self.json_mutation,
            self.json_mutation,
            self.json_mutation,
            self.deep_nesting,
            self.raw_number,
            self.unknown_type,
            self.not_an_object,
            self.oversized,
        ]

    def frames(self, count: int) -> Iterator[Frame]:
        for _ in range(count):
            yield self.random.choice(self._makers)()

    # --- the makers ----------------------------------------------------------------

    def _golden_text(self) -> str:
        return json.dumps(self.random.choice(self.golden))

    def random_bytes(self) -> Frame:
        return self.random.randbytes(self.random.randint(0, 256))

    def invalid_utf8(self) -> Frame:
        text = self._golden_text().encode()
        at = self.random.randint(0, len(text))
        return text[:at] + self.random.choice(_INVALID_UTF8) + text[at:]

    def byte_mutation(self) -> Frame:
        data = bytearray(self._golden_text().encode())
        for _ in range(self.random.randint(1, 8)):
            if not data:
                break
            at = self.random.randrange(len(data))
            match self.random.randrange(4):
                case 0:
                    data[at] = self.random.randrange(256)
                case 1:
                    del data[at]
                case 2:
                    data.insert(at, self.random.choice(b'{}[]",:\\0123456789eE.-+ tfn'))
                case _:
                    del data[at:]
        return bytes(data) if self.random.random() < 0.5 else data.decode(errors="replace")

    def json_mutation(self) -> Frame:
        frame = json.loads(self._golden_text())
        for _ in range(self.random.randint(1, 3)):
            self._mutate(frame)
        return json.dumps(frame, ensure_ascii=self.random.random() < 0.5)

    def _mutate(self, frame: dict[str, Any]) -> None:
        target = frame.get("data") if isinstance(frame.get("data"), dict) else frame
        if not isinstance(target, dict):
            return
        keys = list(target) or ["x"]
        key = self.random.choice(keys)
        match self.random.randrange(8):
            case 0:
                target[key] = self.random.choice(_ODD_STRINGS)
            case 1:
                target[key] = self.random.choice(_ODD_NUMBERS)
            case 2:
                target[key] = self.random.choice([None, True, [], {}, [1, "a"], {"k": None}])
            case 3:
                target.pop(key, None)
            case 4:
                target[self.random.choice((*_ODD_STRINGS[:6], "extra", "seq", "type"))] = 1
            case 5:
                frame["type"] = self.random.choice([*self.types, "", "PING", 7, None])
            case 6:
                frame["correlation_id"] = self.random.choice([*_ODD_STRINGS, 5, None, ["x"]])
            case _:
                value: Any = self.random.choice(_ODD_NUMBERS)
                for _ in range(self.random.randint(1, 40)):
                    value = {"m": value} if self.random.random() < 0.5 else [value]
                target[key] = value

    def deep_nesting(self) -> Frame:
        frame = self._golden_text()
        depth = self.random.choice([9, 33, 100, 400, 1000, 5000])
        deep = _deep(depth, self.random.choice(["list", "dict"]))
        at = frame.rfind("}")
        return frame[:at] + f',"deep":{deep}' + frame[at:]

    def raw_number(self) -> Frame:
        frame = self._golden_text()
        number = self.random.choice([*_RAW_NUMBERS, *(repr(n) for n in _ODD_NUMBERS)])
        at = frame.rfind("}")
        return frame[:at] + f',"n":{number}' + frame[at:]

    def unknown_type(self) -> Frame:
        tag = self.random.choice(["launch", "", "user_message ", "Ping", "__proto__", "x" * 300])
        return json.dumps({"type": tag, "data": {}})

    def not_an_object(self) -> Frame:
        return self.random.choice(['"ping"', "[]", "null", "1", "true", "[" * 3000 + "]" * 3000])

    def oversized(self) -> Frame:
        size = self.random.choice([DEFAULT_MAX_FRAME_SIZE + 1, 2 * DEFAULT_MAX_FRAME_SIZE])
        content = "x" * size
        return json.dumps({"type": "user_message", "data": {"content": content}})


@dataclass
class FuzzReport:
    """What a fuzz run saw: frames by answer, and every frame that broke the oracle."""

    frames: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, Frame, str]] = field(default_factory=list)


def check_decode(frame: Frame, version: str, report: FuzzReport) -> None:
    """Decode one frame; record its answer, or a failure if it raised or answered off the list."""
    report.frames += 1
    try:
        result = decode_client(frame, version)
    except BaseException:
        report.failures.append((version, frame, traceback.format_exc(limit=4)))
        return
    if isinstance(result, ClientEnvelope):
        report.answers["decoded"] += 1
    elif isinstance(result, ProtocolError) and result.code in DECODE_CODES:
        report.answers[result.code.value] += 1
    else:
        report.failures.append((version, frame, f"undocumented answer {result!r}"))


def fuzz_decode(frames_per_version: int, seed: int = 0) -> FuzzReport:
    """Run the in-process oracle over ``frames_per_version`` frames of every version."""
    report = FuzzReport()
    for version in VERSIONS:
        for frame in FrameFuzzer(version, seed).frames(frames_per_version):
            check_decode(frame, version, report)
    return report


# --- over a real socket --------------------------------------------------------------------


@dataclass
class SocketReport:
    """What a real server answered: counts, and every frame not answered as documented."""

    sent: int = 0
    answered: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    mismatches: list[tuple[str, Frame, str]] = field(default_factory=list)
    close: tuple[int | None, str] | None = None


def _sentinel(version: str, index: int) -> str:
    if version == "v1":
        return json.dumps({"type": "ping", "correlation_id": f"sentinel-{index}"})
    return json.dumps({"type": "ping", "data": {}, "correlation_id": f"sentinel-{index}"})


def _name_and_code(frame: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """A server frame's message name, error code and correlation id, in any version."""
    if "event" in frame and "type" not in frame:  # v1: flat
        return str(frame["event"]), frame.get("error_code"), frame.get("correlation_id")
    data = frame.get("data")
    if not isinstance(data, dict):
        data = {}
    code = data.get("code", data.get("error_code"))
    return str(frame["type"]), code, frame.get("correlation_id")


def sendable(frame: Frame) -> Frame:
    """``frame`` as a client can send it: text that cannot be UTF-8 goes as its raw bytes.

    A str holding a lone surrogate has no UTF-8 form, so a WebSocket client
    cannot send it as text; its bytes (``surrogatepass``) go in a binary frame.
    """
    if isinstance(frame, str):
        try:
            frame.encode()
        except UnicodeEncodeError:
            return frame.encode("utf-8", "surrogatepass")
    return frame


def refused_frames(version: str, seed: int, count: int) -> Iterator[tuple[Frame, ErrorCode]]:
    """Sendable fuzzed frames ``decode_client`` refuses, with the code the server must answer."""
    fuzzer = FrameFuzzer(version, seed)
    produced = 0
    while produced < count:
        for raw in fuzzer.frames(count):
            frame = sendable(raw)
            result = decode_client(frame, version)
            if isinstance(result, ProtocolError):
                produced += 1
                yield frame, result.code
                if produced == count:
                    return


async def fuzz_socket(
    url: str, token: str, version: str, frames: list[tuple[Frame, ErrorCode]], batch: int = 40
) -> SocketReport:
    """Send ``frames`` in batches, each followed by a ping; every frame must get its error.

    Batches stay under the server's abuse threshold (50 refused frames in a
    row); the ping between them is a good frame and resets the count.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    report = SocketReport()
    async with connect(
        url,
        subprotocols=[f"agentsocket.{version}"],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=None,
        open_timeout=10,
    ) as ws:
        await ws.recv()  # the welcome
        try:
            for start in range(0, len(frames), batch):
                chunk = frames[start : start + batch]
                for frame, _ in chunk:
                    await ws.send(frame)
                    report.sent += 1
                await ws.send(_sentinel(version, start))
                codes: list[str | None] = []
                while True:
                    reply = json.loads(await ws.recv())
                    name, code, correlation = _name_and_code(reply)
                    if name == "pong" and correlation == f"sentinel-{start}":
                        break
                    if name == "error":
                        codes.append(code)
                for (frame, expected), got in zip(chunk, codes, strict=False):
                    report.codes[str(got)] += 1
                    if got == expected.value:
                        report.answered += 1
                    else:
                        report.mismatches.append((version, frame, f"{got} != {expected.value}"))
                if len(codes) != len(chunk):
                    report.mismatches.append(
                        (version, b"", f"{len(chunk)} frames got {len(codes)} errors")
                    )
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            report.close = (rcvd.code, rcvd.reason) if rcvd else (None, "no close frame")
    return report
