/**
 * The agent picker in the composer: which of the gateway's agents answers the
 * next message (`user_message.agent`). The welcome lists the agents and the
 * default; the picker shows only when there is more than one to pick from.
 *
 * The choice is kept per thread for the page session (sessionStorage), so a
 * thread goes on with the agent the user picked for it; a thread without a
 * choice, and a new chat, start with the server's default agent.
 */
import { h } from "./dom.js";
const STORAGE_KEY = "agentsocket.agents";
export class AgentPicker {
    elements;
    agents = [];
    defaultAgent = null;
    thread = null;
    /** The agent picked in "New chat", until its thread is known. */
    newChatChoice = null;
    constructor(elements) {
        this.elements = elements;
        elements.select.addEventListener("change", () => this.picked(elements.select.value));
    }
    /** The agents of a welcome; `agents` is `null` from a server that does not list them. */
    offer(agents, defaultAgent) {
        this.agents = agents ?? [];
        this.defaultAgent = defaultAgent ?? this.agents[0]?.name ?? null;
        this.elements.select.replaceChildren(...this.agents.map((agent) => h("option", {
            text: agent.name,
            title: agent.description ?? undefined,
            attrs: { value: agent.name },
        })));
        this.elements.root.hidden = this.agents.length < 2;
        this.show();
    }
    /** Show the choice for this thread (`null`: a new chat, which starts with the default). */
    showThread(threadId) {
        this.thread = threadId;
        this.newChatChoice = null;
        this.show();
    }
    /** The thread a message from "New chat" started keeps the agent picked for it. */
    adopt(threadId) {
        const choice = this.newChatChoice;
        this.thread = threadId;
        this.newChatChoice = null;
        if (choice !== null)
            this.save(threadId, choice);
    }
    /** The thread is gone: its choice too. */
    forget(threadId) {
        const choices = readChoices();
        delete choices[threadId];
        writeChoices(choices);
    }
    /** Sign-out: nothing of this user's choices stays. */
    forgetAll() {
        sessionStorage.removeItem(STORAGE_KEY);
        this.newChatChoice = null;
    }
    /** The agent for the next message; `null` when the server lists none (its default runs). */
    get current() {
        return this.offered(this.elements.select.value) ? this.elements.select.value : null;
    }
    picked(name) {
        if (this.thread === null)
            this.newChatChoice = name;
        else
            this.save(this.thread, name);
        this.describe();
    }
    show() {
        const wanted = this.thread === null ? this.newChatChoice : readChoices()[this.thread];
        // A choice the server no longer offers (it restarted with other agents) falls back.
        const name = wanted !== undefined && wanted !== null && this.offered(wanted) ? wanted : null;
        this.elements.select.value = name ?? this.defaultAgent ?? "";
        this.describe();
    }
    describe() {
        const agent = this.agents.find((a) => a.name === this.elements.select.value);
        const text = agent?.description ?? "";
        this.elements.description.textContent = text;
        // Cut to one line on a narrow screen: the tooltips hold the whole text.
        this.elements.description.title = text;
        this.elements.select.title = text;
    }
    offered(name) {
        return this.agents.some((agent) => agent.name === name);
    }
    save(threadId, name) {
        writeChoices({ ...readChoices(), [threadId]: name });
    }
}
function readChoices() {
    try {
        const parsed = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "{}");
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
            return {};
        return Object.fromEntries(Object.entries(parsed).filter((entry) => typeof entry[1] === "string"));
    }
    catch {
        return {}; // unreadable: as if nothing had been picked
    }
}
function writeChoices(choices) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(choices));
}
