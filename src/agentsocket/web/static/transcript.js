import { formatDuration, formatJson, formatUsage, h } from "./dom.js";
import { showMarkdown } from "./markdown.js";
import { Pauses } from "./pauses.js";
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
];
/** Terminal events: nothing of their run follows. */
export const RUN_ENDS = new Set([
    "agent_completed",
    "agent_error",
    "agent_cancelled",
]);
/** How a run that was cancelled for `reason` reads. */
export function cancelledLabel(reason) {
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
    root;
    runs = new Map();
    tools = new Map();
    /** Where new turns go: the transcript, or history being built before it. */
    target = null;
    /** When the server accepted the message that started a run (`message_received`). */
    accepted = new Map();
    /** The approvals and questions shown, until resolved. */
    pauses;
    constructor(root, answers) {
        this.root = root;
        this.pauses = new Pauses(answers);
    }
    clear() {
        this.pauses.clear();
        this.runs.clear();
        this.tools.clear();
        this.accepted.clear();
        this.root.replaceChildren();
    }
    showLoading() {
        this.clear();
        this.root.append(h("p", { class: "loading", text: "Loading history…" }));
    }
    /** A message the user just sent; `message_received` marks it delivered. */
    addUser(content, clientMessageId) {
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
    addAccepted(messageId, clientMessageId, content) {
        for (const turn of this.root.querySelectorAll(".turn.user")) {
            const same = turn.dataset["messageId"] === messageId ||
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
    showHistory(messages, runs = []) {
        this.root.querySelector(".loading")?.remove();
        const live = new Set([...this.root.querySelectorAll("[data-message-id]")].map((e) => e.dataset["messageId"]));
        const stored = new Map(runs.filter((r) => !this.runs.has(r.run_id)).map((r) => [r.run_id, r]));
        const nodes = document.createDocumentFragment();
        this.target = nodes;
        try {
            for (const message of messages) {
                if (live.has(message.message_id))
                    continue;
                const timeline = message.run_id === null ? undefined : stored.get(message.run_id);
                if (message.role === "user") {
                    const turn = userTurn(message.content);
                    turn.dataset["messageId"] = message.message_id;
                    nodes.append(turn);
                    if (timeline !== undefined)
                        this.replay(timeline);
                }
                else if (message.run_id !== null &&
                    (timeline !== undefined || this.runs.has(message.run_id))) {
                    // Its run shows the answer: replayed from its stored timeline, or live.
                    if (timeline !== undefined && !this.runs.has(message.run_id))
                        this.replay(timeline);
                }
                else {
                    const bubble = h("div", { class: "bubble assistant markdown" });
                    showMarkdown(bubble, message.content);
                    nodes.append(h("article", {
                        class: "turn assistant",
                        data: { status: "completed" },
                        attrs: { "aria-label": "Answer" },
                    }, bubble));
                }
            }
        }
        finally {
            this.target = null;
        }
        this.root.prepend(nodes);
        this.scrollToEnd(true);
    }
    /** Show a stored run timeline: its events through `apply`, then how it ended if they do not say. */
    replay(timeline) {
        for (const stored of timeline.events) {
            // The server stores each live event's data unchanged, so it is that event's data.
            this.apply({ type: stored.type, data: stored.data });
            if (stored.truncated.length > 0)
                this.markTruncated(stored.data, stored.truncated);
        }
        const view = this.runs.get(timeline.run_id);
        if (view === undefined)
            return;
        if (timeline.omitted > 0) {
            const count = timeline.omitted;
            this.step(view, h("li", { class: "event omitted" }, tag("omitted"), h("span", { text: `${count} more step${count === 1 ? "" : "s"} not stored` })));
        }
        if (!timeline.complete && timeline.status !== "running") {
            // Its process was lost before the end was stored; the run's status says how it ended.
            this.finish(view, timeline.status, timeline.status === "cancelled" ? "Stopped" : "Interrupted");
        }
    }
    /** Tag a tool call whose stored arguments or result the server cut to a preview. */
    markTruncated(data, fields) {
        const callId = data["tool_call_id"];
        const item = typeof callId === "string" ? this.tools.get(callId) : undefined;
        if (item === undefined)
            return;
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
            const preview = args["truncated"];
            if (typeof preview === "string")
                setText(item, ".kv.arguments .value", preview);
        }
    }
    /** An `error` replying to an answer sent from this page: shown on its form; false if not one. */
    refused(correlationId, refusal) {
        return this.pauses.refused(correlationId, refusal);
    }
    /** The server accepted the message of run `runId` at `timestamp` (`message_received`). */
    acceptedAt(runId, timestamp) {
        this.accepted.set(runId, timestamp);
    }
    /** Apply one event of a run of this thread. */
    apply(event) {
        const d = event.data;
        const view = this.runs.get(d.run_id) ??
            this.startRun(d.run_id, d.agent_name, d.parent_run_id, event.timestamp);
        const timings = view.timings;
        switch (event.type) {
            case "agent_started":
                break;
            case "agent_thinking":
                this.step(view, h("li", { class: "event thinking" }, tag("thinking"), h("span", { text: event.data.content })));
                break;
            case "tool_approval_required": {
                const item = this.tool(view, event.data.tool_call_id, event.data.tool_name, event.data.arguments);
                item.dataset["status"] = "approval";
                setText(item, ".tool-status", "awaiting approval");
                // A gateway that restarted sends the requests still waiting again: shown once.
                if (!this.pauses.has(event.data.tool_call_id))
                    item.append(this.pauses.approval(event));
                break;
            }
            case "agent_question":
                if (this.pauses.has(event.data.question_id))
                    break; // sent again, as above
                this.step(view, h("li", { class: "event question", data: { questionId: event.data.question_id } }, tag("question"), this.pauses.question(event)));
                break;
            case "interrupt_resolved":
                // Shown where its request is; else (asked before this page joined) as a step.
                if (!this.pauses.resolve(event)) {
                    this.step(view, h("li", { class: "event resolved" }, tag(event.data.kind), h("span", { text: event.data.message })));
                }
                break;
            case "tool_executing": {
                const item = this.tool(view, event.data.tool_call_id, event.data.tool_name, event.data.arguments);
                item.dataset["status"] = "running";
                setText(item, ".tool-status", "running…");
                break;
            }
            case "tool_completed": {
                const { status, result, error, duration_ms } = event.data;
                const item = this.tool(view, event.data.tool_call_id, event.data.tool_name, null);
                item.dataset["status"] = status;
                setText(item, ".tool-status", { success: "done", error: "failed", denied: "denied" }[status]);
                setText(item, ".duration", formatDuration(duration_ms));
                timings.toolMs += duration_ms;
                timings.toolCalls += 1;
                showTimings(timings);
                item.querySelector(".approval")?.remove();
                item.append(status === "success"
                    ? keyValue("result", formatJson(result), "result")
                    : keyValue(status === "denied" ? "denied" : "error", error ?? status, "error"));
                break;
            }
            case "agent_message_delta":
                if (view.text === null)
                    break;
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
                if (view.text === null)
                    break;
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
                    view.status.after(h("span", {
                        class: "usage",
                        text: formatUsage(usage),
                        attrs: {
                            title: `Tokens this run used: ${usage.input_tokens} input, ${usage.output_tokens} output`,
                        },
                    }));
                }
                break;
            }
            case "agent_error":
                this.end(view, event.timestamp);
                this.finish(view, "error", "Failed");
                this.step(view, h("li", { class: "event error" }, tag("error"), h("span", { text: `${event.data.code}: ${event.data.message}` })));
                break;
            case "agent_cancelled":
                this.end(view, event.timestamp);
                this.finish(view, "cancelled", cancelledLabel(event.data.reason));
                break;
            default: {
                const unexpected = event;
                console.warn("agentsocket: unhandled event", unexpected);
            }
        }
        this.scrollToEnd(false);
    }
    startRun(runId, agentName, parentRunId, timestamp) {
        const parent = parentRunId === null ? undefined : this.runs.get(parentRunId);
        const status = h("span", { class: "run-status", text: "Working…" });
        const timeline = h("ol", { class: "timeline" });
        let view;
        if (parent !== undefined) {
            const item = h("li", { class: "event subrun", data: { runId, status: "running" } }, h("div", { class: "event-head" }, tag("agent"), h("strong", { text: agentName }), status), timeline);
            this.step(parent, item);
            view = {
                turn: parent.turn,
                timings: parent.timings,
                timeline,
                status,
                text: null,
                streamed: "",
            };
        }
        else {
            // Earlier finished turns fold their timelines; the new one is followed live.
            for (const details of this.root.querySelectorAll(".turn.assistant:not([data-status='running']) > .activity")) {
                details.open = false;
            }
            const bubble = h("div", { class: "bubble assistant markdown" });
            const timings = {
                element: h("p", { class: "timings" }),
                start: this.accepted.get(runId) ?? timestamp,
                firstToken: null,
                toolMs: 0,
                toolCalls: 0,
                end: null,
            };
            const activity = h("details", { class: "activity", attrs: { open: "" } }, h("summary", {}, h("span", { class: "agent-name", text: agentName }), status, h("span", { class: "steps" })), timeline, timings.element);
            const turn = h("article", {
                class: "turn assistant",
                data: { runId, status: "running" },
                attrs: { "aria-label": `Answer from ${agentName}` },
            }, activity, bubble);
            this.root.querySelector(".loading")?.remove();
            (this.target ?? this.root).append(turn);
            view = { turn, timings, timeline, status, text: bubble, streamed: "" };
        }
        this.runs.set(runId, view);
        return view;
    }
    step(view, item) {
        view.timeline.append(item);
        const steps = view.turn.querySelectorAll(".timeline > li").length;
        setText(view.turn, ".steps", `${steps} step${steps === 1 ? "" : "s"}`);
    }
    tool(view, toolCallId, name, args) {
        let item = this.tools.get(toolCallId);
        if (item === undefined) {
            item = h("li", { class: "event tool", data: { toolCallId, toolName: name, status: "running" } }, h("div", { class: "event-head" }, tag("tool"), h("code", { class: "tool-name", text: name }), h("span", { class: "tool-status" }), h("span", { class: "duration" })));
            if (args !== null)
                item.append(keyValue("arguments", formatJson(args), "arguments"));
            this.tools.set(toolCallId, item);
            this.step(view, item);
        }
        return item;
    }
    /** A root run ended at `timestamp`: its total is known. */
    end(view, timestamp) {
        if (view.text === null)
            return; // a sub-run: its parent's end counts
        view.timings.end = timestamp;
        showTimings(view.timings);
    }
    finish(view, status, label) {
        view.status.textContent = label;
        view.text?.classList.remove("streaming");
        view.text?.removeAttribute("aria-busy");
        const owner = view.status.closest("[data-status]");
        if (owner !== null)
            owner.dataset["status"] = status;
        // A finished turn folds to its summary line, which the answer follows;
        // a failed one stays open on the error.
        const activity = owner === view.turn ? view.turn.querySelector(":scope > .activity") : null;
        if (activity instanceof HTMLDetailsElement) {
            if (status !== "error")
                activity.open = false;
            const nothing = view.timeline.childElementCount === 0 && view.timings.end === null;
            if (nothing)
                activity.classList.add("no-steps");
        }
        // Nothing of this run waits any more (a sub-run's own box, or the whole turn).
        this.pauses.end(owner ?? view.turn, "No longer waiting: the run ended.");
        if (status === "completed")
            return;
        // Nothing of this run follows: its open tool calls end here.
        for (const item of view.turn.querySelectorAll('.event.tool[data-status="running"], .event.tool[data-status="approval"]')) {
            item.dataset["status"] = "stopped";
            setText(item, ".tool-status", status === "cancelled" ? "stopped" : "interrupted");
        }
    }
    scrollToEnd(force) {
        const root = this.root;
        const nearBottom = root.scrollHeight - root.scrollTop - root.clientHeight < 120;
        if (force || nearBottom)
            root.scrollTop = root.scrollHeight;
    }
}
/** Show a run's timings as far as they are known: first token, tools, total. */
function showTimings(timings) {
    const parts = [];
    const since = (at) => formatDuration(Math.max(0, (at - timings.start) * 1000));
    if (timings.firstToken !== null) {
        parts.push(timing("first-token", "first token", since(timings.firstToken)));
    }
    if (timings.toolCalls > 0) {
        const calls = `${timings.toolCalls} call${timings.toolCalls === 1 ? "" : "s"}`;
        parts.push(timing("tools", "tools", `${formatDuration(timings.toolMs)} (${calls})`));
    }
    if (timings.end !== null)
        parts.push(timing("total", "total", since(timings.end)));
    timings.element.replaceChildren(...parts);
}
function timing(kind, label, value) {
    return h("span", { class: `timing ${kind}` }, h("span", { class: "label", text: label }), h("span", { class: "value", text: value }));
}
function userTurn(content) {
    return h("article", { class: "turn user", attrs: { "aria-label": "You" } }, h("div", { class: "bubble user", text: content }));
}
function tag(label) {
    return h("span", { class: `tag tag-${label}`, text: label });
}
function keyValue(label, value, kind) {
    return h("div", { class: `kv ${kind}` }, h("span", { class: "label", text: label }), h("code", { class: "value", text: value }));
}
function setText(root, selector, text) {
    const element = root.querySelector(selector);
    if (element !== null)
        element.textContent = text;
}
