"""The built-in demo agent: a supervisor and four specialists, offline and deterministic.

:class:`DemoAgent` reads the prompt, hands each part it understands to a
specialist sub-agent (:class:`CalculatorAgent`, :class:`UnitsAgent`,
:class:`ClockAgent`, :class:`ResearcherAgent`) and streams their answers
back. ``"what is 17*23 in hex?"`` goes to the calculator, which calls
``calculate`` (391) then ``convert_base`` (``0x187``), and the answer is
``17*23 = 391, which is 0x187 in hexadecimal.`` A prompt it cannot handle
gets a list of what it can do.

Four words in a prompt trigger test behaviour instead (whole words, any case):

- ``fail``: the agent raises, so the run ends in ``agent_error`` ``agent_failed``;
- ``slow``: the ``sleep`` tool waits ``slow_seconds``, so the run can be cancelled mid-tool;
- ``approve``: the ``announce`` tool runs only once the user approves it;
- ``survey``: the agent asks a question (``agent_question``) whose answer has a
  schema (:data:`SURVEY_SCHEMA`) and waits for it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agentsocket.agents.clock import Clock, utc_now
from agentsocket.agents.runtime import DEFAULT_CHUNK, RunContext
from agentsocket.agents.specialists import (
    CalculatorAgent,
    ClockAgent,
    Found,
    ResearcherAgent,
    Specialist,
    UnitsAgent,
)
from agentsocket.agents.tools import ANNOUNCE, SLEEP, SearchFunc

HELP = (
    "I'm the built-in demo agent. I work offline and can:\n"
    '- calculate: "what is 17*23 in hex?"\n'
    '- convert units: "5 miles to km", "100 f to c"\n'
    '- work with dates: "what time is it?", "in 3 days", "days until 2030-01-01"\n'
    '- search your earlier messages: "search my history for pizza"\n'
    # A blank line ends the list (the web page renders answers as Markdown).
    "\nAsk for several at once and a specialist handles each part."
)

_FAIL = re.compile(r"\bfail\b", re.IGNORECASE)
_SLOW = re.compile(r"\bslow\b", re.IGNORECASE)
_APPROVE = re.compile(r"\bapprove\b", re.IGNORECASE)
_SURVEY = re.compile(r"\bsurvey\b", re.IGNORECASE)

#: The answer the ``survey`` prompt asks for: a rating of 1 to 5, and a comment.
SURVEY_SCHEMA = {
    "type": "object",
    "title": "Rate this demo",
    "properties": {
        "rating": {"type": "integer", "minimum": 1, "maximum": 5, "title": "Rating (1-5)"},
        "comment": {"type": "string", "maxLength": 200, "title": "Comment"},
    },
    "required": ["rating"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class Task:
    """One part of a prompt and the specialist that will handle it."""

    agent: Specialist
    text: str


class DemoAgent:
    """The supervisor: splits the prompt among specialists and streams their answers.

    Args:
        search: searches a user's history; without it the researcher says
            search is not set up.
        clock: the current time, for the clock specialist (UTC by default).
        slow_seconds: how long the ``slow`` test prompt's tool waits.
        chunk: characters per streamed delta.
        delay: seconds between streamed deltas, to look typed in a UI.
        name: the agent's name in events.
    """

    tools = (SLEEP, ANNOUNCE)

    def __init__(
        self,
        *,
        search: SearchFunc | None = None,
        clock: Clock = utc_now,
        slow_seconds: float = 5.0,
        chunk: int = DEFAULT_CHUNK,
        delay: float = 0.0,
        name: str = "demo",
    ) -> None:
        self.name = name
        self._slow_seconds = slow_seconds
        self._chunk = chunk
        self._delay = delay
        # Earlier specialists claim their parts of the prompt first.
        self.specialists: Sequence[Specialist] = (
            ResearcherAgent(search, chunk=chunk, delay=delay),
            ClockAgent(clock, chunk=chunk, delay=delay),
            UnitsAgent(chunk=chunk, delay=delay),
            CalculatorAgent(chunk=chunk, delay=delay),
        )

    def plan(self, prompt: str) -> list[Task]:
        """Which specialist handles which part of ``prompt``, in prompt order."""
        claimed: list[Found] = []
        tasks: list[tuple[int, Task]] = []
        for specialist in self.specialists:
            for found in specialist.find(prompt):
                if all(found.end <= c.start or found.start >= c.end for c in claimed):
                    claimed.append(found)
                    tasks.append((found.start, Task(specialist, found.text)))
        return [task for _, task in sorted(tasks, key=lambda t: t[0])]

    async def run(self, ctx: RunContext, prompt: str) -> None:
        if _FAIL.search(prompt):
            await ctx.think("Failing on purpose, as the prompt asks")
            raise RuntimeError("the demo agent was asked to fail")
        if _SLOW.search(prompt):
            await ctx.think(f"Taking it slow: waiting {self._slow_seconds:g} seconds")
            await ctx.tool(SLEEP, {"seconds": self._slow_seconds})
            await self._say(ctx, f"Done: I waited {self._slow_seconds:g} seconds.")
            return
        if _APPROVE.search(prompt):
            await ctx.think("Announcing needs your approval")
            result = await ctx.tool(ANNOUNCE, {"text": prompt})
            if result.ok:
                await self._say(ctx, f"Approved, so I announce: {result.value}")
            else:
                await self._say(ctx, f"I did not announce it: {result.error}.")
            return
        if _SURVEY.search(prompt):
            await ctx.think("Asking you for a rating")
            answer = await ctx.ask("How would you rate this demo?", SURVEY_SCHEMA)
            if answer.value is None:
                await self._say(ctx, "No answer came, so no rating.")
            else:
                comment = answer.value.get("comment")
                said = f' and said "{comment}"' if comment else ""
                await self._say(ctx, f"Thanks: you rated it {answer.value['rating']}/5{said}.")
            return
        tasks = self.plan(prompt)
        if not tasks:
            await ctx.think("Nothing here I can work out; listing what I can do")
            await self._say(ctx, HELP)
            return
        answers = []
        for task in tasks:
            await ctx.think(f"Asking the {task.agent.name} agent: {task.text}")
            answers.append(await ctx.delegate(task.agent, task.text))
        if len(answers) == 1:
            await self._say(ctx, answers[0])
        else:
            await self._say(ctx, "\n".join(_bullet(answer) for answer in answers))

    async def _say(self, ctx: RunContext, text: str) -> None:
        await ctx.say(text, chunk=self._chunk, delay=self._delay)


def _bullet(answer: str) -> str:
    """``answer`` as a list item; its further lines indented under it."""
    return "- " + answer.replace("\n", "\n  ")
