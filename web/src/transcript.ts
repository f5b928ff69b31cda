/**
 * The chat transcript of one thread: the user's messages, and for each agent
 * run a turn with a live timeline (thinking, tool calls with arguments,
 * results and durations, approvals and questions, sub-agent runs nested under
 * their parent) above the answer, streamed as it arrives and rendered as Markdown. A
 * finished run folds its timeline into a one-line summary, with the tokens it
 * used when its agent reported them.
 *
 * A sub-agent's answer is shown once: its parent's answer is what the user
 * reads (the demo's supervisor repeats each specialist's answer), so a
 * sub-run shows its agent, status and steps, not its text. *
 * Each turn ends its timeline with the run's timings: time to first token,
 * the time its tool calls took, and the total. They are computed from the
 * `timestamp` the server puts on every frame (when it was published), from
 * the moment the message was accepted (`message_received`, when this page
 * sent it) or else the run's `agent_started`; so they read the same after a
 * reconnect, when a backlog arrives at once.
 */
import type { ServerMessageOf, ServerType } from "./client.js";
import { formatDuration, formatJson, formatUsage, h } from "./dom.js";
import { showMarkdown } from "./markdown.js";
import { Pauses, type AnswerSender, type Refusal } from "./pauses.js";
import type { HistoryMessage, RunTimeline } from "./protocol.js";

/** The messages of an agent run, in the order a run emits them. */
export const AGENT_EVENTS = [
  "agent_started",
  "agent_thinking",
  "tool_approval_required",
  "agent_question",
  "interrupt_resolved",
  "tool_executing",
  "tool_completed",
  "agent_message_delta",
  "agent_message",
  "agent_completed",
  "agent_error",
  "agent_cancelled",
] as const satisfies readonly ServerType[];

export type AgentEventType = (typeof AGENT_EVENTS)[number];
export type AgentEvent = ServerMessageOf<AgentEventType>;

/** Terminal events: nothing of their run follows. */
export const RUN_ENDS: ReadonlySet<ServerType> = new Set([
  "agent_completed",
  "agent_error",
  "agent_cancelled",
]);

/** A root run's timings, from the server's frame timestamps (seconds). */
interface Timings {
  element: HTMLElement;
  /** When the message was accepted, else when the run started. */
  start: number;
  firstToken: number | null;
  toolMs: number;
  toolCalls: number;
  end: number | null;
}

interface RunView {
  /** The turn (root run) this run shows in. */
  turn: HTMLElement;
  /** The root run's timings; shared by its sub-runs. */
  timings: Timings;
  timeline: HTMLOListElement;
  status: HTMLElement;
  /** The answer bubble of a root run; `null` for a sub-run (its parent answers). */
  text: HTMLElement | null;
  streamed: string;
}

/** How a run that was cancelled for `reason` reads. */
export function cancelledLabel(reason: string): string {
  switch (reason) {
    case "user_request":
      return "Stopped";
    case "shutdown":
      return "Stopped: the server restarted";
    case "interrupted":
      return "Interrupted";
    default:
      return `Stopped: ${reason.replaceAll("_", " ")}`;
  }
}

export class Transcript {
  private readonly runs = new Map<string, RunView>();
  private readonly tools = new Map<string, HTMLLIElement>();
  /** Where new turns go: the transcript, or history being built before it. */
  private target: ParentNode | null = null;
  /** When the server accepted the message that started a run (`message_received`). */
  private readonly accepted = new Map<string, number>();
  /** The approvals and questions shown, until resolved. */
  private readonly pauses: Pauses;

  constructor(
    private readonly root: HTMLElement,
    answers: AnswerSender,
  ) {
    this.pauses = new Pauses(answers);
  }

  clear(): void {
    this.pauses.clear();
    this.runs.clear();
    this.tools.clear();
    this.accepted.clear();
    this.root.replaceChildren();
  }

  showLoading(): void {
    this.clear();
    this.root.append(h("p", { class: "loading", text: "Loading history…" }));
  }

  /** A message the user just sent; `message_received` marks it delivered. */
  addUser(content: string, clientMessageId: string): HTMLElement {
    const turn = userTurn(content);
    turn.dataset["clientMessageId"] = clientMessageId;
    turn.classList.add("pending");
    this.root.querySelector(".loading")?.remove();
    this.root.append(turn);
    this.scrollToEnd(true);
    return turn;
  }

  /**
   * A user message the server accepted (`user_message_accepted`), sent from this tab or
   * another tab or device: shown once, matched by message id or client message id.
   */
  addAccepted(messageId: string, clientMessageId: string | null, content: string): void {
    for (const turn of this.root.querySelectorAll<HTMLElement>(".turn.user")) {
      const same =
        turn.dataset["messageId"] === messageId ||
        (clientMessageId !== null && turn.dataset["clientMessageId"] === clientMessageId);
      if (same) {
        turn.dataset["messageId"] = messageId;
        return;
      }
    }
    const turn = userTurn(content);
    turn.dataset["messageId"] = messageId;
    this.root.querySelector(".loading")?.remove();
    this.root.append(turn);
    this.scrollToEnd(false);
  }

  /**
   * The thread's stored messages, placed before anything that happened live since.
   *
   * A run with a stored timeline is replayed through `apply`, the live view's
   * own path, so it looks exactly as it did live; its answer is in its events.
   */
  showHistory(messages: HistoryMessage[], runs: RunTimeline[] = []): void {
    this.root.querySelector(".loading")?.remove();
    const live = new Set(
      [...this.root.querySelectorAll<HTMLElement>("[data-message-id]")].map(
        (e) => e.dataset["messageId"],
      ),
    );
    const stored = new Map(runs.filter((r) => !this.runs.has(r.run_id)).map((r) => [r.run_id, r]));
    const nodes = document.createDocumentFragment();
    this.target = nodes;
    try {
      for (const message of messages) {
        if (live.has(message.message_id)) continue;
        const timeline = message.run_id === null ? undefined : stored.get(message.run_id);
        if (message.role === "user") {
          const turn = userTurn(message.content);
          turn.dataset["messageId"] = message.message_id;
          nodes.append(turn);
          if (timeline !== undefined) this.replay(timeline);
        } else if (
          message.run_id !== null &&
          (timeline !== undefined || this.runs.has(message.run_id))
        ) {
          // Its run shows the answer: replayed from its stored timeline, or live.
          if (timeline !== undefined && !this.runs.has(message.run_id)) this.replay(timeline);
        } else {
          const bubble = h("div", { class: "bubble assistant markdown" });
          showMarkdown(bubble, message.content);
          nodes.append(
            h(
              "article",
              {
                class: "turn assistant",
                data: { status: "completed" },
                attrs: { "aria-label": "Answer" },
              },
              bubble,
            ),
          );
        }
      }
    } finally {
      this.target = null;
    }
    this.root.prepend(nodes);
    this.scrollToEnd(true);
  }

  /** Show a stored run timeline: its events through `apply`, then how it ended if they do not say. */
  private replay(timeline: RunTimeline): void {
    for (const stored of timeline.events) {
      // The server stores each live event's data unchanged, so it is that event's data.
      this.apply({ type: stored.type, data: stored.data } as unknown as AgentEvent);
      if (stored.truncated.length > 0) this.markTruncated(stored.data, stored.truncated);
    }
    const view = this.runs.get(timeline.run_id);
    if (view === undefined) return;
    if (timeline.omitted > 0) {
      const count = timeline.omitted;
      this.step(
        view,
        h(
          "li",
          { class: "event omitted" },
          tag("omitted"),
          h("span", { text: `${count} more step${count === 1 ? "" : "s"} not stored` }),
        ),
      );
    }
    if (!timeline.complete && timeline.status !== "running") {
      // Its process was lost before the end was stored; the run's status says how it ended.
      this.finish(
        view,
        timeline.status,
        timeline.status === "cancelled" ? "Stopped" : "Interrupted",
      );
    }
  }

  /** Tag a tool call whose stored arguments or result the server cut to a preview. */
  private markTruncated(data: Record<string, unknown>, fields: string[]): void {
    const callId = data["tool_call_id"];
    const item = typeof callId === "string" ? this.tools.get(callId) : undefined;
    if (item === undefined) return;
    item.dataset["truncated"] = fields.join(" ");
    item
      .querySelector(".event-head")
      ?.append(h("span", { class: "tag tag-truncated", text: `cut: ${fields.join(", ")}` }));
    // The preview is the start of the value's JSON, shown as such rather than as a string.
    const result = data["result"];
    if (fields.includes("result") && typeof result === "string") {
      setText(item, ".kv.result .value", result);
    }
    const args = data["arguments"];
    if (fields.includes("arguments") && typeof args === "object" && args !== null) {
      const preview = (args as Record<string, unknown>)["truncated"];
      if (typeof preview === "string") setText(item, ".kv.arguments .value", preview);
    }
  }

  /** An `error` replying to an answer sent from this page: shown on its form; false if not one. */
  refused(correlationId: string, refusal: Refusal): boolean {
    return this.pauses.refused(correlationId, refusal);
  }

  /** The server accepted the message of run `runId` at `timestamp` (`message_received`). */
  acceptedAt(runId: string, timestamp: number): void {
    this.accepted.set(runId, timestamp);
  }

  /** Apply one event of a run of this thread. */
  apply(event: AgentEvent): void {
    const d = event.data;
    const view =
      this.runs.get(d.run_id) ??
      this.startRun(d.run_id, d.agent_name, d.parent_run_id, event.timestamp);
    const timings = view.timings;
    switch (event.type) {
      case "agent_started":
        break;
      case "agent_thinking":
        this.step(
          view,
          h(
            "li",
            { class: "event thinking" },
            tag("thinking"),
            h("span", { text: event.data.content }),
          ),
        );
        break;
      case "tool_approval_required": {
        const item = this.tool(
          view,
          event.data.tool_call_id,
          event.data.tool_name,
          event.data.arguments,
        );
        item.dataset["status"] = "approval";
        setText(item, ".tool-status", "awaiting approval");
        // A gateway that restarted sends the requests still waiting again: shown once.
        if (!this.pauses.has(event.data.tool_call_id)) item.append(this.pauses.approval(event));
        break;
      }
      case "agent_question":
        if (this.pauses.has(event.data.question_id)) break; // sent again, as above
        this.step(
          view,
          h(
            "li",
            { class: "event question", data: { questionId: event.data.question_id } },
            tag("question"),
            this.pauses.question(event),
          ),
        );
        break;
      case "interrupt_resolved":
        // Shown where its request is; else (asked before this page joined) as a step.
        if (!this.pauses.resolve(event)) {
          this.step(
            view,
            h(
              "li",
              { class: "event resolved" },
              tag(event.data.kind),
              h("span", { text: event.data.message }),
            ),
          );
        }
        break;
      case "tool_executing": {
        const item = this.tool(
          view,
          event.data.tool_call_id,
          event.data.tool_name,
          event.data.arguments,
        );
        item.dataset["status"] = "running";
        setText(item, ".tool-status", "running…");
        break;
      }
      case "tool_completed": {
        const { status, result, error, duration_ms } = event.data;
        const item = this.tool(view, event.data.tool_call_id, event.data.tool_name, null);
        item.dataset["status"] = status;
        setText(
          item,
          ".tool-status",
          { success: "done", error: "failed", denied: "denied" }[status],
        );
        setText(item, ".duration", formatDuration(duration_ms));
        timings.toolMs += duration_ms;
        timings.toolCalls += 1;
        showTimings(timings);
        item.querySelector(".approval")?.remove();
        item.append(
          status === "success"
            ? keyValue("result", formatJson(result), "result")
            : keyValue(status === "denied" ? "denied" : "error", error ?? status, "error"),
        );
        break;
      }
      case "agent_message_delta":
        if (view.text === null) break;
        if (timings.firstToken === null) {
          timings.firstToken = event.timestamp;
          showTimings(timings);
        }
        view.streamed += event.data.content;
        showMarkdown(view.text, view.streamed);
        view.text.classList.add("streaming");
        // Screen readers hear the answer once it is whole, not every delta.
        view.text.setAttribute("aria-busy", "true");
        break;
      case "agent_message":
        if (view.text === null) break;
        // The whole text: authoritative even if a delta was missed.
        view.streamed = event.data.content;
        showMarkdown(view.text, event.data.content);
        view.text.classList.remove("streaming");
        view.text.removeAttribute("aria-busy");
        break;
      case "agent_completed": {
        this.end(view, event.timestamp);
        this.finish(view, "completed", `Done in ${formatDuration(event.data.duration_ms)}`);
        const { usage } = event.data;
        if (usage !== undefined && usage !== null) {
          // Beside the run's status: the turn's summary, or a sub-run's own head.
          view.status.after(
            h("span", {
              class: "usage",
              text: formatUsage(usage),
              attrs: {
                title: `Tokens this run used: ${usage.input_tokens} input, ${usage.output_tokens} output`,
              },
            }),
          );
        }
        break;
      }
      case "agent_error":
        this.end(view, event.timestamp);
        this.finish(view, "error", "Failed");
        this.step(
          view,
          h(
            "li",
            { class: "event error" },
            tag("error"),
            h("span", { text: `${event.data.code}: ${event.data.message}` }),
          ),
        );
        break;
      case "agent_cancelled":
        this.end(view, event.timestamp);
        this.finish(view, "cancelled", cancelledLabel(event.data.reason));
        break;
      default: {
        const unexpected: never = event;
        console.warn("agentsocket: unhandled event", unexpected);
      }
    }
    this.scrollToEnd(false);
  }

  private startRun(
    runId: string,
    agentName: string,
    parentRunId: string | null,
    timestamp: number,
  ): RunView {
    const parent = parentRunId === null ? undefined : this.runs.get(parentRunId);
    const status = h("span", { class: "run-status", text: "Working…" });
    const timeline = h("ol", { class: "timeline" });
    let view: RunView;
    if (parent !== undefined) {
      const item = h(
        "li",
        { class: "event subrun", data: { runId, status: "running" } },
        h("div", { class: "event-head" }, tag("agent"), h("strong", { text: agentName }), status),
        timeline,
      );
      this.step(parent, item);
      view = {
        turn: parent.turn,
        timings: parent.timings,
        timeline,
        status,
        text: null,
        streamed: "",
      };
    } else {
      // Earlier finished turns fold their timelines; the new one is followed live.
      for (const details of this.root.querySelectorAll<HTMLDetailsElement>(
        ".turn.assistant:not([data-status='running']) > .activity",
      )) {
        details.open = false;
      }
      const bubble = h("div", { class: "bubble assistant markdown" });
      const timings: Timings = {
        element: h("p", { class: "timings" }),
        start: this.accepted.get(runId) ?? timestamp,
        firstToken: null,
        toolMs: 0,
        toolCalls: 0,
        end: null,
      };
      const activity = h(
        "details",
        { class: "activity", attrs: { open: "" } },
        h(
          "summary",
          {},
          h("span", { class: "agent-name", text: agentName }),
          status,
          h("span", { class: "steps" }),
        ),
        timeline,
        timings.element,
      );
      const turn = h(
        "article",
        {
          class: "turn assistant",
          data: { runId, status: "running" },
          attrs: { "aria-label": `Answer from ${agentName}` },
        },
        activity,
        bubble,
      );
      this.root.querySelector(".loading")?.remove();
      (this.target ?? this.root).append(turn);
      view = { turn, timings, timeline, status, text: bubble, streamed: "" };
    }
    this.runs.set(runId, view);
    return view;
  }

  private step(view: RunView, item: HTMLLIElement): void {
    view.timeline.append(item);
    const steps = view.turn.querySelectorAll(".timeline > li").length;
    setText(view.turn, ".steps", `${steps} step${steps === 1 ? "" : "s"}`);
  }

  private tool(view: RunView, toolCallId: string, name: string, args: unknown): HTMLLIElement {
    let item = this.tools.get(toolCallId);
    if (item === undefined) {
      item = h(
        "li",
        { class: "event tool", data: { toolCallId, toolName: name, status: "running" } },
        h(
          "div",
          { class: "event-head" },
          tag("tool"),
          h("code", { class: "tool-name", text: name }),
          h("span", { class: "tool-status" }),
          h("span", { class: "duration" }),
        ),
      );
      if (args !== null) item.append(keyValue("arguments", formatJson(args), "arguments"));
      this.tools.set(toolCallId, item);
      this.step(view, item);
    }
    return item;
  }

  /** A root run ended at `timestamp`: its total is known. */
  private end(view: RunView, timestamp: number): void {
    if (view.text === null) return; // a sub-run: its parent's end counts
    view.timings.end = timestamp;
    showTimings(view.timings);
  }

  private finish(view: RunView, status: string, label: string): void {
    view.status.textContent = label;
    view.text?.classList.remove("streaming");
    view.text?.removeAttribute("aria-busy");
    const owner = view.status.closest<HTMLElement>("[data-status]");
    if (owner !== null) owner.dataset["status"] = status;
    // A finished turn folds to its summary line, which the answer follows;
    // a failed one stays open on the error.
    const activity = owner === view.turn ? view.turn.querySelector(":scope > .activity") : null;
    if (activity instanceof HTMLDetailsElement) {
      if (status !== "error") activity.open = false;
      const nothing = view.timeline.childElementCount === 0 && view.timings.end === null;
      if (nothing) activity.classList.add("no-steps");
    }
    // Nothing of this run waits any more (a sub-run's own box, or the whole turn).
    this.pauses.end(owner ?? view.turn, "No longer waiting: the run ended.");
    if (status === "completed") return;
    // Nothing of this run follows: its open tool calls end here.
    for (const item of view.turn.querySelectorAll<HTMLElement>(
      '.event.tool[data-status="running"], .event.tool[data-status="approval"]',
    )) {
      item.dataset["status"] = "stopped";
      setText(item, ".tool-status", status === "cancelled" ? "stopped" : "interrupted");
    }
  }

  private scrollToEnd(force: boolean): void {
    const root = this.root;
    const nearBottom = root.scrollHeight - root.scrollTop - root.clientHeight < 120;
    if (force || nearBottom) root.scrollTop = root.scrollHeight;
  }
}

/** Show a run's timings as far as they are known: first token, tools, total. */
function showTimings(timings: Timings): void {
  const parts: HTMLElement[] = [];
  const since = (at: number): string => formatDuration(Math.max(0, (at - timings.start) * 1000));
  if (timings.firstToken !== null) {
    parts.push(timing("first-token", "first token", since(timings.firstToken)));
  }
  if (timings.toolCalls > 0) {
    const calls = `${timings.toolCalls} call${timings.toolCalls === 1 ? "" : "s"}`;
    parts.push(timing("tools", "tools", `${formatDuration(timings.toolMs)} (${calls})`));
  }
  if (timings.end !== null) parts.push(timing("total", "total", since(timings.end)));
  timings.element.replaceChildren(...parts);
}

function timing(kind: string, label: string, value: string): HTMLElement {
  return h(
    "span",
    { class: `timing ${kind}` },
    h("span", { class: "label", text: label }),
    h("span", { class: "value", text: value }),
  );
}

function userTurn(content: string): HTMLElement {
  return h(
    "article",
    { class: "turn user", attrs: { "aria-label": "You" } },
    h("div", { class: "bubble user", text: content }),
  );
}

function tag(label: string): HTMLElement {
  return h("span", { class: `tag tag-${label}`, text: label });
}

function keyValue(label: string, value: string, kind: string): HTMLElement {
  return h(
    "div",
    { class: `kv ${kind}` },
    h("span", { class: "label", text: label }),
    h("code", { class: "value", text: value }),
  );
}

function setText(root: ParentNode, selector: string, text: string): void {
  const element = root.querySelector(selector);
  if (element !== null) element.textContent = text;
}
