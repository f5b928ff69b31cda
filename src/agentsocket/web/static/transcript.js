import { formatDuration, formatJson, h } from "./dom.js";
import { showMarkdown } from "./markdown.js";
/** The messages of an agent run, in the order a run emits them. */
export const AGENT_EVENTS = [
    "agent_started",
    "agent_thinking",
    "tool_approval_required",
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
    answerApproval;
    runs = new Map();
    tools = new Map();
    constructor(root, answerApproval) {
        this.root = root;
        this.answerApproval = answerApproval;
    }
    clear() {
        this.runs.clear();
        this.tools.clear();
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
    /** The thread's stored messages, placed before anything that happened live since. */
    showHistory(messages) {
        this.root.querySelector(".loading")?.remove();
        const live = new Set([...this.root.querySelectorAll("[data-message-id]")].map((e) => e.dataset["messageId"]));
        const nodes = [];
        for (const message of messages) {
            if (live.has(message.message_id))
                continue;
            if (message.role === "user") {
                const turn = userTurn(message.content);
                turn.dataset["messageId"] = message.message_id;
                nodes.push(turn);
            }
            else if (message.run_id === null || !this.runs.has(message.run_id)) {
                const bubble = h("div", { class: "bubble assistant markdown" });
                showMarkdown(bubble, message.content);
                nodes.push(h("article", {
                    class: "turn assistant",
                    data: { status: "completed" },
                    attrs: { "aria-label": "Answer" },
                }, bubble));
            }
        }
        this.root.prepend(...nodes);
        this.scrollToEnd(true);
    }
    /** Apply one event of a run of this thread. */
    apply(event) {
        const d = event.data;
        const view = this.runs.get(d.run_id) ?? this.startRun(d.run_id, d.agent_name, d.parent_run_id);
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
                item.append(this.approvalPrompt(event));
                break;
            }
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
                item.querySelector(".approval")?.remove();
                item.append(status === "success"
                    ? keyValue("result", formatJson(result), "result")
                    : keyValue(status === "denied" ? "denied" : "error", error ?? status, "error"));
                break;
            }
            case "agent_message_delta":
                if (view.text === null)
                    break;
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
            case "agent_completed":
                this.finish(view, "completed", `Done in ${formatDuration(event.data.duration_ms)}`);
                break;
            case "agent_error":
                this.finish(view, "error", "Failed");
                this.step(view, h("li", { class: "event error" }, tag("error"), h("span", { text: `${event.data.code}: ${event.data.message}` })));
                break;
            case "agent_cancelled":
                this.finish(view, "cancelled", cancelledLabel(event.data.reason));
                break;
            default: {
                const unexpected = event;
                console.warn("agentsocket: unhandled event", unexpected);
            }
        }
        this.scrollToEnd(false);
    }
    startRun(runId, agentName, parentRunId) {
        const parent = parentRunId === null ? undefined : this.runs.get(parentRunId);
        const status = h("span", { class: "run-status", text: "Working…" });
        const timeline = h("ol", { class: "timeline" });
        let view;
        if (parent !== undefined) {
            const item = h("li", { class: "event subrun", data: { runId, status: "running" } }, h("div", { class: "event-head" }, tag("agent"), h("strong", { text: agentName }), status), timeline);
            this.step(parent, item);
            view = { turn: parent.turn, timeline, status, text: null, streamed: "" };
        }
        else {
            // Earlier finished turns fold their timelines; the new one is followed live.
            for (const details of this.root.querySelectorAll(".turn.assistant:not([data-status='running']) > .activity")) {
                details.open = false;
            }
            const bubble = h("div", { class: "bubble assistant markdown" });
            const activity = h("details", { class: "activity", attrs: { open: "" } }, h("summary", {}, h("span", { class: "agent-name", text: agentName }), status, h("span", { class: "steps" })), timeline);
            const turn = h("article", {
                class: "turn assistant",
                data: { runId, status: "running" },
                attrs: { "aria-label": `Answer from ${agentName}` },
            }, activity, bubble);
            this.root.querySelector(".loading")?.remove();
            this.root.append(turn);
            view = { turn, timeline, status, text: bubble, streamed: "" };
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
    approvalPrompt(event) {
        const { run_id: runId, tool_call_id: toolCallId, timeout_seconds: timeout } = event.data;
        const note = h("span", {
            class: "approval-note",
            text: `The agent waits up to ${Math.round(timeout)} s for your answer.`,
        });
        const answer = (approved) => () => {
            for (const button of box.querySelectorAll("button"))
                button.disabled = true;
            note.textContent = approved ? "Approved; running…" : "Denied.";
            this.answerApproval(runId, toolCallId, approved);
        };
        const box = h("div", { class: "approval", attrs: { role: "group", "aria-label": "Approval" } }, h("strong", { text: "Run this tool?" }), h("button", { class: "primary approve", text: "Approve", onClick: answer(true) }), h("button", { class: "deny", text: "Deny", onClick: answer(false) }), note);
        return box;
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
            if (view.timeline.childElementCount === 0)
                activity.classList.add("no-steps");
        }
        if (status === "completed")
            return;
        // Nothing of this run follows: its open tool calls and approvals end here.
        for (const box of view.turn.querySelectorAll(".approval"))
            box.remove();
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
