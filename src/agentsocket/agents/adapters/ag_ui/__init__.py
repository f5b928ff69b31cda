"""Any AG-UI server as an agent (``pip install 'agentsocket[ag-ui]'``).

:class:`AGUIAgent` posts AG-UI ``RunAgentInput`` requests to a server and
maps its Server-Sent Events onto a run; :mod:`.mapping` (pure) and :mod:`.sse`
(pure) hold the AG-UI models' use and the event mapping, reusable without I/O.
"""

try:
    import ag_ui.core  # noqa: F401 - only to fail early with the install hint
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "the AG-UI adapter needs the ag-ui-protocol package: pip install 'agentsocket[ag-ui]'"
    ) from exc

from agentsocket.agents.adapters.ag_ui.agent import SKIPPED_EVENTS, AGUIAgent
from agentsocket.agents.adapters.ag_ui.errors import EventTooLargeError, UpstreamProtocolError
from agentsocket.agents.adapters.ag_ui.mapping import RunMapper, parse_event, run_input
from agentsocket.agents.adapters.ag_ui.sse import ServerSentEvent, SSEParser

__all__ = [
    "SKIPPED_EVENTS",
    "AGUIAgent",
    "EventTooLargeError",
    "RunMapper",
    "SSEParser",
    "ServerSentEvent",
    "UpstreamProtocolError",
    "parse_event",
    "run_input",
]
