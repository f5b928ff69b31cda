"""The I/O-free core of one connection: frames in, actions out.

:class:`ConnectionCore` holds everything a connection decides on its own —
rate limits, the count of refused frames, which stream seqs it already sent,
its protocol version and its close state — and never touches a socket, a
clock it was not given, or a task. The I/O shell (:mod:`agentsocket.server.session`)
feeds it what arrives and carries out what it returns:

* :meth:`ConnectionCore.receive_frame` takes one inbound frame and returns
  actions: :class:`Dispatch` a decoded request, :class:`AnswerPing` a plain
  head-version ``ping`` (answered from a template, no models), :class:`Reply`
  a typed error, :class:`Close` the connection (abuse).
* :meth:`ConnectionCore.stream_from` / :meth:`ConnectionCore.take_seq` keep
  resumes free of duplicates: a seq this connection already sent is never
  sent again, even when a ``resume`` asks for it a second time.
* :meth:`ConnectionCore.close` is the only way to start closing; the state
  moves ``OPEN → CLOSING → CLOSED`` and an illegal move raises
  :class:`InvalidState` (a bug of ours, never peer input).

Bad peer input never raises; it becomes a :class:`Reply` or a :class:`Close`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from agentsocket.protocol import (
    ClientEnvelope,
    CloseCode,
    ErrorCode,
    ProtocolError,
    ServerMessage,
    Version,
    decode_client,
)
from agentsocket.protocol import server_messages as s
from agentsocket.protocol.fastping import Ping, read_ping
from agentsocket.protocol.versions import HEAD
from agentsocket.server.ratelimit import TokenBucket

#: RFC 6455 section 5.5: a close frame's payload is at most 125 bytes, 2 of them the code.
MAX_CLOSE_REASON = 123


def close_reason(text: str) -> str:
    """``text`` cut to at most 123 UTF-8 bytes on a character boundary.

    Every close reason the gateway sends goes through here: a longer reason
    makes the WebSocket library refuse the close frame (RFC 6455 section 5.5).
    """
    raw = text.encode("utf-8", "replace")
    if len(raw) <= MAX_CLOSE_REASON:
        return text
    return raw[:MAX_CLOSE_REASON].decode("utf-8", "ignore")


class State(IntEnum):
    """Where a connection is in its life; it only ever moves forward."""

    OPEN = 1
    CLOSING = 2  # a close was decided; queued frames may still be flushed
    CLOSED = 3  # the socket is closed; nothing more is sent or read


class InvalidState(RuntimeError, AssertionError):  # noqa: N818 - websockets' name for it
    """The caller asked for a transition the state machine does not allow (a bug of ours)."""


@dataclass(frozen=True, slots=True)
class Dispatch:
    """Run the handler of a decoded, rate-checked client request."""

    envelope: ClientEnvelope


@dataclass(frozen=True, slots=True)
class AnswerPing:
    """Answer a ``ping`` with ``fastping.pong_frame``: the slow path's ``pong``, without models."""

    ping: Ping


@dataclass(frozen=True, slots=True)
class Reply:
    """Send ``message`` to this connection only (never into the user's stream)."""

    message: ServerMessage
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection with ``code``; ``flush`` sends queued frames first.

    ``reason`` is already cut to the 123 bytes a close frame can carry.
    """

    code: CloseCode
    reason: str
    flush: bool = True


Action = Dispatch | AnswerPing | Reply | Close


def error_reply(error: ProtocolError, retry_after: float | None = None) -> Reply:
    """The typed ``error`` answer to a refused frame or request."""
    details = [s.ErrorDetail(path=i.path, reason=i.reason) for i in error.issues]
    message = s.Error(
        code=error.code,
        message=error.message,
        errors=details,
        retry_after=retry_after,
        run_id=error.run_id,
    )
    return Reply(message, error.correlation_id)


class ConnectionCore:
    """One connection's decisions, without I/O.

    Args:
        version: the protocol version the connection speaks.
        bucket: this connection's token bucket.
        user_bucket: the user's bucket, shared by all their connections on the
            node and kept across reconnects (see ``UserState``).
        max_frame_size: largest inbound frame, in bytes.
        abuse_threshold: refused frames in a row before closing with 4008.
    """

    def __init__(
        self,
        version: Version,
        *,
        bucket: TokenBucket,
        user_bucket: TokenBucket,
        max_frame_size: int,
        abuse_threshold: int,
    ) -> None:
        self.version = version
        self.state = State.OPEN
        self.refusals = 0
        self.close_code: CloseCode | None = None
        self._bucket = bucket
        self._user_bucket = user_bucket
        self._max_frame_size = max_frame_size
        self._abuse_threshold = abuse_threshold
        self._sent_from: int | None = None  # first seq this connection sent
        self.last_seq = 0  # newest seq this connection sent (or skipped by a gap)
        self._skip: tuple[int, int] | None = None  # seqs sent before the current resume

    # --- inbound ----------------------------------------------------------------------

    def receive_frame(self, frame: str | bytes) -> list[Action]:
        """Take one inbound frame; return what to do about it.

        Returns:
            ``[Dispatch]`` for a valid request (``[AnswerPing]`` for a plain
            head-version ping, which the fast path reads); ``[Reply]`` with a typed error
            for a refused frame (rate limit or codec error), followed by
            ``[Close(4008)]`` once ``abuse_threshold`` frames in a row were
            refused; ``[]`` once the connection is closing.
        """
        refused = self.admit()
        if refused is not None:
            return refused
        if self.version is HEAD:
            ping = read_ping(frame, self._max_frame_size)
            if ping is not None:
                self.accepted()
                return [AnswerPing(ping)]
        decoded = decode_client(frame, self.version, self._max_frame_size)
        if isinstance(decoded, ProtocolError):
            return self._refuse(decoded)
        self.accepted()
        return [Dispatch(decoded)]

    def admit(self) -> list[Action] | None:
        """Charge one inbound frame to the rate limits: None if it may be read.

        Else what :meth:`receive_frame` returns for it: a ``rate_limited`` reply
        (and the abuse close), or ``[]`` once closing. For a dialect that reads
        frames itself (AG-UI), followed by :meth:`refused` or :meth:`accepted`.
        """
        if self.state is not State.OPEN:
            return []
        # Both buckets are always charged, so neither can be dodged; one clock read for both.
        now = self._bucket.clock()
        wait = max(self._bucket.take(now), self._user_bucket.take(now))
        if wait > 0:
            limited = ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; slow down")
            return self._refuse(limited, retry_after=round(wait, 3))
        return None

    def accepted(self) -> None:
        """The frame was read: the run of refused frames is over."""
        self.refusals = 0

    def refused(self) -> Close | None:
        """The frame was refused (its answer is the caller's); the abuse close, if due."""
        self.refusals += 1
        if self.refusals >= self._abuse_threshold:
            return self.close(CloseCode.ABUSE, "too many refused frames")
        return None

    def _refuse(self, error: ProtocolError, retry_after: float | None = None) -> list[Action]:
        actions: list[Action] = [error_reply(error, retry_after)]
        close = self.refused()
        if close is not None:
            actions.append(close)
        return actions

    # --- the user's stream ------------------------------------------------------------

    def stream_from(self, after: int) -> None:
        """Delivery (re)starts after seq ``after`` (connect or ``resume``).

        Seqs this connection already sent stay skipped, so a resume to an
        older position never sends anything twice.
        """
        if self._sent_from is not None:
            self._skip = (self._sent_from, self.last_seq)
        if self._sent_from is None or after + 1 < self._sent_from:
            self._sent_from = after + 1

    def take_seq(self, seq: int) -> bool:
        """True if stream entry ``seq`` should be sent; records it as sent."""
        skip = self._skip
        if skip is not None and skip[0] <= seq <= skip[1]:
            return False
        if seq > self.last_seq:
            self.last_seq = seq
        return True

    def take_gap(self, to_seq: int) -> None:
        """A gap up to ``to_seq`` was told to the client: its position moved there."""
        self.last_seq = max(self.last_seq, to_seq)

    # --- closing ----------------------------------------------------------------------

    def close(self, code: CloseCode, reason: str, *, flush: bool = True) -> Close:
        """Start closing with ``code`` (``OPEN → CLOSING``).

        Raises:
            InvalidState: the connection is already closing or closed.
        """
        if self.state is not State.OPEN:
            raise InvalidState(f"cannot close a connection that is {self.state.name}")
        self.state = State.CLOSING
        self.close_code = code
        return Close(code, close_reason(reason), flush)

    def close_if_open(self, code: CloseCode, reason: str, *, flush: bool = True) -> Close | None:
        """:meth:`close`, or ``None`` when a close was already decided (the first one wins)."""
        if self.state is not State.OPEN:
            return None
        return self.close(code, reason, flush=flush)

    def closed(self) -> None:
        """The socket is closed (by us or the peer); nothing more will be sent."""
        self.state = State.CLOSED
