"""A tool that needs the user's approval; here a sink answers in the user's place."""

import asyncio

from agentsocket.agents import ListSink, RunContext, Runner, Tool
from agentsocket.protocol.server_messages import AgentEvent, ToolApprovalRequired


def delete_draft(draft: str) -> str:
    return f"deleted {draft}"


DELETE_DRAFT = Tool(
    name="delete_draft",
    description="Delete one of the user's drafts.",
    parameters={"type": "object", "properties": {"draft": {"type": "string"}}},
    func=delete_draft,
    requires_approval=True,
)


class Janitor:
    name = "janitor"

    async def run(self, ctx: RunContext, prompt: str) -> None:
        result = await ctx.tool(DELETE_DRAFT, {"draft": prompt})
        if result.ok:
            await ctx.say(f"Done: {result.value}.")
        else:  # result.status == "denied"
            await ctx.say(f"I kept it ({result.error}).")


class DecliningUser(ListSink):
    """Stands in for a client that answers every approval request with "no"."""

    def __init__(self, runner: Runner) -> None:
        super().__init__()
        self.runner = runner

    async def emit(self, event: AgentEvent) -> None:
        await super().emit(event)
        if isinstance(event, ToolApprovalRequired):
            self.runner.resolve_approval(
                event.run_id, event.tool_call_id, approved=False, reason="I still need it"
            )


async def main() -> str:
    runner = Runner(approval_timeout=60)
    sink = DecliningUser(runner)
    runner.start("user-1", "thread-1", Janitor(), "old-notes", "run-1", sink)
    outcome = await runner.wait("run-1")
    print(outcome.text)  # I kept it (I still need it).
    return outcome.text


if __name__ == "__main__":
    asyncio.run(main())
