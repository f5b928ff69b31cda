"""The ``agentsocket.ag-ui`` WebSocket dialect: a user's stream as AG-UI events, no I/O.

One :class:`StreamConverter` per connection follows the user's stream as the
connection receives it and turns it into AG-UI events:

* **Runs, one at a time.** AG-UI streams carry one run at a time
  (``RUN_STARTED`` ... ``RUN_FINISHED``/``RUN_ERROR``, then the next). The
  connection follows the first run (and its sub-runs) it sees through a
  :class:`~agentsocket.protocol.ag_ui.RunConverter`; entries of another run of
  the user while that one is open are left out, and that run is joined where it
  stands once the connection is free. A run joined mid-way (a resumed or late
  connection) is restated: ``RUN_STARTED`` first, then ``TEXT_MESSAGE_START`` /
  the tool call for what is still open, so every run on the wire is valid AG-UI.
* **Between runs** the connection carries only ``CUSTOM`` events named
  ``agentsocket.<message type>`` (:func:`custom`): the welcome
  (``agentsocket.connection_established``), replies such as
  ``agentsocket.message_received`` and ``agentsocket.error``, thread events and
  stream gaps. Inside a run they are ``CUSTOM`` events too.
* **Position.** After the events of each stream entry comes
  ``CUSTOM`` :data:`POSITION` ``{"epoch", "seq"}``: the ``last_seq``/``epoch``
  to reconnect with (``/ws?protocol=ag-ui&last_seq=...&epoch=...``).

Converting needs the connection's own state (where it joined each run), so it
is done per connection; decoding an entry is shared (``FrameEncoder.message``).
Needs the ``ag-ui`` extra.
"""

from __future__ import annotations

from typing import Final

from ag_ui.core import BaseEvent, CustomEvent
from pydantic import BaseModel, Field

from agentsocket.protocol import server_messages as s
from agentsocket.protocol.ag_ui import CUSTOM_PREFIX, RunConverter
from agentsocket.protocol.message import ServerMessage

#: The dialect's name: subprotocol ``agentsocket.ag-ui``, query ``?protocol=ag-ui``.
DIALECT: Final = "ag-ui"
#: ``CUSTOM`` event after each stream entry's events: :class:`PositionValue`.
POSITION: Final = CUSTOM_PREFIX + "position"
#: ``CUSTOM`` event of a refused client frame or request: :class:`ErrorValue`.
ERROR: Final = CUSTOM_PREFIX + "error"
#: Stream messages sent as ``CUSTOM`` ``agentsocket.<type>`` (value: the message's fields).
STREAM_CUSTOM: Final[tuple[type[ServerMessage], ...]] = (
    s.ThreadCreated,
    s.ThreadRenamed,
    s.ThreadDeleted,
    s.StreamGap,
)
#: Direct replies an AG-UI connection can get, as ``CUSTOM`` ``agentsocket.<type>``
#: (``error`` has its own value, :class:`ErrorValue`, whose ``code`` may be ours).
REPLY_CUSTOM: Final[tuple[type[ServerMessage], ...]] = (
    s.ConnectionEstablished,
    s.MessageReceived,
    s.DeprecationNotice,
    s.ServerShutdown,
)
_STREAM_TYPES = frozenset(m.TYPE for m in STREAM_CUSTOM)
#: How many finished runs are remembered, so their late events stay out.
_FINISHED_KEPT = 64


class PositionValue(BaseModel):
    """Where the connection stands: reconnect with ``last_seq=seq&epoch=epoch``."""

    epoch: str
    seq: int


class ErrorIssue(BaseModel):
    """One bad field of a refused frame, its path in the frame's camelCase."""

    path: str
    reason: str


class ErrorValue(BaseModel):
    """A refused frame or request: an ``ErrorCode`` value, ``unknown_tool`` or ``invalid_json``."""

    code: str
    message: str
    errors: list[ErrorIssue] = Field(default_factory=list)
    retry_after: float | None = None


def custom(message: ServerMessage) -> CustomEvent:
    """``message`` as ``CUSTOM`` ``agentsocket.<type>``, its fields (snake_case) as value."""
    if isinstance(message, s.Error):
        issues = [(e.path, e.reason) for e in message.errors]
        return error_event(message.code.value, message.message, issues, message.retry_after)
    return CustomEvent(name=CUSTOM_PREFIX + message.TYPE, value=message.model_dump(mode="json"))


def error_event(
    code: str,
    message: str,
    errors: list[tuple[str, str]] | None = None,
    retry_after: float | None = None,
) -> CustomEvent:
    """A refused client frame as ``CUSTOM`` :data:`ERROR`."""
    value = ErrorValue(
        code=code,
        message=message,
        errors=[ErrorIssue(path=path, reason=reason) for path, reason in errors or []],
        retry_after=retry_after,
    )
    return CustomEvent(name=ERROR, value=value.model_dump(mode="json"))


class StreamConverter:
    """One connection's view of the user's stream as AG-UI events.

    Attributes:
        current: our run id of the run open on this connection's AG-UI stream.
    """

    def __init__(self) -> None:
        self.current: str | None = None
        self._runs: dict[str, RunConverter] = {}  # root run -> its converter
        self._roots: dict[str, str] = {}  # a run (root or sub-run) -> its root
        self._names: dict[str, str] = {}  # root run -> the client's runId
        self._finished: list[str] = []

    @property
    def busy(self) -> bool:
        """True while a run is open on this connection."""
        return self.current is not None

    def name_run(self, run_id: str, agui_run_id: str) -> None:
        """Our run ``run_id`` is the client's ``agui_run_id`` (``RUN_STARTED.runId``)."""
        self._names[run_id] = agui_run_id
        converter = self._runs.get(run_id)
        if converter is not None:  # it waits on an interrupt: this names the continuation
            converter.continue_as(agui_run_id)

    def entry(self, message: ServerMessage, epoch: str, seq: int) -> list[BaseEvent]:
        """The events of stream entry ``seq``: its AG-UI events, then :data:`POSITION`."""
        events = self._convert(message)
        if events:
            position = PositionValue(epoch=epoch, seq=seq)
            events.append(CustomEvent(name=POSITION, value=position.model_dump(mode="json")))
        return events

    def _convert(self, message: ServerMessage) -> list[BaseEvent]:
        if message.TYPE in _STREAM_TYPES:
            return [custom(message)]
        if not isinstance(message, s.AgentEvent):
            return []
        root = self._root(message)
        if root in self._finished:
            return []
        if self.current not in (None, root):
            # Another run is open here: this one is joined afresh once it is free.
            self._runs.pop(root, None)
            return []
        converter = self._runs.get(root)
        if converter is None:
            converter = RunConverter(root, agui_run_id=self._names.get(root))
            self._runs[root] = converter
        events = converter.convert(message)
        if converter.finished:
            self._forget(root)
        self.current = root if converter.open else None
        return events

    def _root(self, event: s.AgentEvent) -> str:
        """The root run of ``event``'s run.

        A sub-run whose parent was never seen here (the connection joined while
        it ran) is taken for a sub-run of a root run, as every sub-run of the
        built-in agents is: its parent is that root.
        """
        root = self._roots.get(event.run_id)
        if root is None:
            parent = event.parent_run_id
            root = event.run_id if parent is None else self._roots.get(parent, parent)
            self._roots[event.run_id] = root
            self._roots.setdefault(root, root)
        return root

    def _forget(self, root: str) -> None:
        self._runs.pop(root, None)
        self._names.pop(root, None)
        for run in [run for run, owner in self._roots.items() if owner == root]:
            del self._roots[run]
        self._finished.append(root)
        del self._finished[:-_FINISHED_KEPT]
