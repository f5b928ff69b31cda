"""Agent runs, shared by the gateway and ``agentsocket worker``.

- :mod:`~agentsocket.runs.agent_set` and :mod:`~agentsocket.runs.loading`:
  the agents offered, from code, the command line, the environment and
  entry points;
- :mod:`~agentsocket.runs.executors`: where runs execute (this process, or
  workers through Redis) and the reaper of lost runs;
- :mod:`~agentsocket.runs.control`: the typed commands workers obey;
- :mod:`~agentsocket.runs.outcomes`: what a run reads from and writes to the store;
- :mod:`~agentsocket.runs.stream`: run events into a user's stream.

Nothing here imports :mod:`agentsocket.server`.
"""

from agentsocket.runs.agent_set import AgentInfo, AgentSet, AgentSpecError
from agentsocket.runs.control import (
    Approve,
    BadCommand,
    Cancel,
    Resolve,
    encode_command,
    parse_command,
)
from agentsocket.runs.executors import Executor, LocalExecutor, QueueExecutor
from agentsocket.runs.loading import ENTRY_POINT_GROUP, build_agent_set, load_spec
from agentsocket.runs.outcomes import (
    history_search,
    lost_run_code,
    lost_run_outcome,
    persist_outcome,
    thread_history,
)
from agentsocket.runs.stream import Publish, StreamSink, stream_payload

__all__ = [
    "ENTRY_POINT_GROUP",
    "AgentInfo",
    "AgentSet",
    "AgentSpecError",
    "Approve",
    "BadCommand",
    "Cancel",
    "Executor",
    "LocalExecutor",
    "Publish",
    "QueueExecutor",
    "Resolve",
    "StreamSink",
    "build_agent_set",
    "encode_command",
    "history_search",
    "load_spec",
    "lost_run_code",
    "lost_run_outcome",
    "parse_command",
    "persist_outcome",
    "stream_payload",
    "thread_history",
]
