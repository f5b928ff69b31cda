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
import type { AvailableAgent } from "./protocol.js";

const STORAGE_KEY = "agentsocket.agents";

export interface PickerElements {
  /** Holds the label, the select and the description; hidden with one agent. */
  root: HTMLElement;
  select: HTMLSelectElement;
  /** The chosen agent's description, as secondary text. */
  description: HTMLElement;
}

export class AgentPicker {
  private agents: AvailableAgent[] = [];
  private defaultAgent: string | null = null;
  private thread: string | null = null;
  /** The agent picked in "New chat", until its thread is known. */
  private newChatChoice: string | null = null;

  constructor(private readonly elements: PickerElements) {
    elements.select.addEventListener("change", () => this.picked(elements.select.value));
  }

  /** The agents of a welcome; `agents` is `null` from a server that does not list them. */
  offer(agents: AvailableAgent[] | null, defaultAgent: string | null): void {
    this.agents = agents ?? [];
    this.defaultAgent = defaultAgent ?? this.agents[0]?.name ?? null;
    this.elements.select.replaceChildren(
      ...this.agents.map((agent) =>
        h("option", {
          text: agent.name,
          title: agent.description ?? undefined,
          attrs: { value: agent.name },
        }),
      ),
    );
    this.elements.root.hidden = this.agents.length < 2;
    this.show();
  }

  /** Show the choice for this thread (`null`: a new chat, which starts with the default). */
  showThread(threadId: string | null): void {
    this.thread = threadId;
    this.newChatChoice = null;
    this.show();
  }

  /** The thread a message from "New chat" started keeps the agent picked for it. */
  adopt(threadId: string): void {
    const choice = this.newChatChoice;
    this.thread = threadId;
    this.newChatChoice = null;
    if (choice !== null) this.save(threadId, choice);
  }

  /** The thread is gone: its choice too. */
  forget(threadId: string): void {
    const choices = readChoices();
    delete choices[threadId];
    writeChoices(choices);
  }

  /** Sign-out: nothing of this user's choices stays. */
  forgetAll(): void {
    sessionStorage.removeItem(STORAGE_KEY);
    this.newChatChoice = null;
  }

  /** The agent for the next message; `null` when the server lists none (its default runs). */
  get current(): string | null {
    return this.offered(this.elements.select.value) ? this.elements.select.value : null;
  }

  private picked(name: string): void {
    if (this.thread === null) this.newChatChoice = name;
    else this.save(this.thread, name);
    this.describe();
  }

  private show(): void {
    const wanted = this.thread === null ? this.newChatChoice : readChoices()[this.thread];
    // A choice the server no longer offers (it restarted with other agents) falls back.
    const name = wanted !== undefined && wanted !== null && this.offered(wanted) ? wanted : null;
    this.elements.select.value = name ?? this.defaultAgent ?? "";
    this.describe();
  }

  private describe(): void {
    const agent = this.agents.find((a) => a.name === this.elements.select.value);
    const text = agent?.description ?? "";
    this.elements.description.textContent = text;
    // Cut to one line on a narrow screen: the tooltips hold the whole text.
    this.elements.description.title = text;
    this.elements.select.title = text;
  }

  private offered(name: string): boolean {
    return this.agents.some((agent) => agent.name === name);
  }

  private save(threadId: string, name: string): void {
    writeChoices({ ...readChoices(), [threadId]: name });
  }
}

function readChoices(): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(
      Object.entries(parsed).filter(
        (entry): entry is [string, string] => typeof entry[1] === "string",
      ),
    );
  } catch {
    return {}; // unreadable: as if nothing had been picked
  }
}

function writeChoices(choices: Record<string, string>): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(choices));
}
