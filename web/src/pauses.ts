/**
 * The pauses of a run, where it waits for the user: a question
 * (`agent_question`) as a form generated from its answer's JSON Schema, and a
 * tool approval (`tool_approval_required`) as Approve / Deny, with an editable
 * copy of the arguments when the tool gives their schema.
 *
 * Each counts down to its `expires_at` (by this device's clock). A refused
 * answer (an `error` replying to it, e.g. `validation_failed`) shows its field
 * errors beside the fields and leaves the pause open to answer again. An
 * `interrupt_resolved`, whichever device answered, replaces the pause with
 * what happened (its `message`), so nothing stays answerable twice.
 */
import type { ServerMessageOf } from "./client.js";
import { formatJson, h } from "./dom.js";
import type { ErrorDetail } from "./protocol.js";
import { SchemaForm } from "./schema_form.js";

/** Sends answers; each call returns the frame's correlation id. */
export interface AnswerSender {
  approve(
    runId: string,
    toolCallId: string,
    approved: boolean,
    args: Record<string, unknown> | null,
  ): string | undefined;
  answer(runId: string, questionId: string, answer: unknown): string | undefined;
}

/** The parts of an `error` frame a pause shows. */
export interface Refusal {
  code: string;
  message: string;
  errors: ErrorDetail[];
}

type Question = ServerMessageOf<"agent_question">;
type Approval = ServerMessageOf<"tool_approval_required">;
type Resolved = ServerMessageOf<"interrupt_resolved">;

interface OpenPause {
  /** What the resolution replaces. */
  box: HTMLElement;
  countdown: Countdown | null;
  refused(refusal: Refusal): void;
}

export class Pauses {
  /** Pauses shown and not resolved, by interrupt id (tool call id or question id). */
  private readonly open = new Map<string, OpenPause>();
  /** Answers sent and not replied to: correlation id → interrupt id. */
  private readonly sent = new Map<string, string>();
  private timer: number | undefined;

  constructor(private readonly sender: AnswerSender) {}

  /** The form answering `event`'s question, with its prompt and countdown. */
  question(event: Question): HTMLElement {
    const { run_id: runId, question_id: questionId, prompt, answer_schema: schema } = event.data;
    const idBase = `question-${safeId(questionId)}`;
    const fields = new SchemaForm(idBase, schema);
    const countdown = new Countdown(event.data.expires_at, "");
    const status = h("span", { class: "form-status", attrs: { role: "status" } });
    const problem = h("p", { class: "form-error", attrs: { id: `${idBase}-problem` } });
    problem.hidden = true;
    const submit = h("button", {
      class: "primary",
      text: "Send answer",
      attrs: { type: "submit" },
    });
    const title = typeof schema["title"] === "string" ? schema["title"] : null;
    const form = h(
      "form",
      {
        class: "question-form",
        attrs: {
          novalidate: "",
          "aria-labelledby": `${idBase}-prompt`,
          "aria-describedby": `${idBase}-problem`,
        },
      },
      title === null ? null : h("p", { class: "schema-title", text: title }),
      fields.element,
      problem,
      h("div", { class: "form-actions" }, submit, status),
    );
    // The server is the judge of the schema: the inputs' limits are hints (novalidate).
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      problem.hidden = true;
      const read = fields.read();
      if (read === null) {
        fields.focusInvalid();
        return;
      }
      fields.disabled = true;
      submit.disabled = true;
      status.textContent = "Sending…";
      this.track(this.sender.answer(runId, questionId, read.answer), questionId);
    });
    const box = h("div", { class: "pause-box" }, countdown.element, form);
    this.add(questionId, {
      box,
      countdown,
      refused: (refusal) => {
        fields.disabled = false;
        submit.disabled = false;
        status.textContent = "";
        const unplaced = fields.showErrors(refusal.errors, "answer");
        showProblem(problem, refusal, unplaced);
        if (!fields.focusInvalid()) submit.focus();
      },
    });
    return h(
      "div",
      { class: "question" },
      h("p", { class: "question-prompt", text: prompt, attrs: { id: `${idBase}-prompt` } }),
      box,
    );
  }

  /** Approve / Deny for `event`'s tool call; its arguments editable if they have a schema. */
  approval(event: Approval): HTMLElement {
    const { run_id: runId, tool_call_id: toolCallId, expires_at: expiresAt } = event.data;
    const idBase = `approval-${safeId(toolCallId)}`;
    const editable = event.data.arguments_schema !== null;
    const editor = editable ? new ArgumentsEditor(idBase, event.data.arguments) : null;
    const then = event.data.on_expiry === "approve" ? "then it runs" : "then it is denied";
    const countdown = expiresAt === null ? null : new Countdown(expiresAt, then);
    const seconds = Math.round(event.data.timeout_seconds);
    const waits = `The agent waits up to ${seconds} s for your answer.`;
    const note = h("span", { class: "approval-note" }, countdown?.element ?? waits);
    const problem = h("p", { class: "form-error" });
    problem.hidden = true;
    const buttons = [
      h("button", { class: "primary approve", text: "Approve", onClick: () => decide(true) }),
      h("button", { class: "deny", text: "Deny", onClick: () => decide(false) }),
    ];
    const decide = (approved: boolean): void => {
      problem.hidden = true;
      let args: Record<string, unknown> | null = null;
      if (approved && editor !== null) {
        const edited = editor.read();
        if (edited === undefined) return;
        args = edited;
      }
      for (const button of buttons) button.disabled = true;
      const edits = args === null ? "" : " with edits";
      note.textContent = approved ? `Approved${edits}; running…` : "Denied.";
      this.track(this.sender.approve(runId, toolCallId, approved, args), toolCallId);
    };
    const box = h(
      "div",
      { class: "approval", attrs: { role: "group", "aria-label": "Approval" } },
      h("strong", { text: "Run this tool?" }),
      ...buttons,
      note,
      editor?.element,
      problem,
    );
    this.add(toolCallId, {
      box,
      countdown,
      refused: (refusal) => {
        for (const button of buttons) button.disabled = false;
        note.replaceChildren(countdown?.element ?? waits);
        const unplaced = editor?.showErrors(refusal.errors) ?? refusal.errors.map((e) => e.reason);
        showProblem(problem, refusal, unplaced);
      },
    });
    return box;
  }

  /** Whether pause `interruptId` is shown and waits: a request sent again is shown once. */
  has(interruptId: string): boolean {
    return this.open.has(interruptId);
  }

  /** Replace the pause `event` resolved with what happened; false if it is not shown here. */
  resolve(event: Resolved): boolean {
    const pause = this.open.get(event.data.interrupt_id);
    if (pause === undefined) return false;
    this.open.delete(event.data.interrupt_id);
    pause.box.replaceWith(resolution(event));
    return true;
  }

  /** An `error` replying to an answer sent from here: shown on its pause; false if not one. */
  refused(correlationId: string, refusal: Refusal): boolean {
    const interruptId = this.sent.get(correlationId);
    if (interruptId === undefined) return false;
    this.sent.delete(correlationId);
    this.open.get(interruptId)?.refused(refusal);
    return true;
  }

  /** A run ended: its pauses inside `root` no longer wait. */
  end(root: HTMLElement, text: string): void {
    for (const [id, pause] of this.open) {
      if (!root.contains(pause.box)) continue;
      this.open.delete(id);
      pause.box.replaceWith(h("p", { class: "resolution", text }));
    }
  }

  clear(): void {
    this.open.clear();
    this.sent.clear();
    this.tick();
  }

  private track(correlationId: string | undefined, interruptId: string): void {
    if (correlationId !== undefined) this.sent.set(correlationId, interruptId);
  }

  private add(interruptId: string, pause: OpenPause): void {
    this.open.set(interruptId, pause);
    pause.countdown?.show(Date.now() / 1000);
    this.timer ??= window.setInterval(() => this.tick(), 1000);
  }

  /** Every second: the countdowns; the timer stops when nothing waits. */
  private tick(): void {
    const now = Date.now() / 1000;
    for (const pause of this.open.values()) pause.countdown?.show(now);
    if (this.open.size === 0 && this.timer !== undefined) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** "Expires in 1:58", to an `expires_at` in Unix seconds. */
class Countdown {
  readonly element = h("span", { class: "countdown" });

  constructor(
    private readonly expiresAt: number,
    private readonly then: string,
  ) {}

  show(now: number): void {
    const left = Math.ceil(this.expiresAt - now);
    const after = this.then === "" ? "" : `; ${this.then}`;
    this.element.textContent = left > 0 ? `Expires in ${clock(left)}${after}.` : "Time is up…";
    this.element.dataset["left"] = String(Math.max(0, left));
  }
}

/** An approval's arguments as editable JSON, checked before they are sent. */
class ArgumentsEditor {
  readonly element: HTMLElement;
  private readonly text: HTMLTextAreaElement;
  private readonly error: HTMLElement;
  private readonly original: string;

  constructor(idBase: string, args: Record<string, unknown>) {
    this.original = JSON.stringify(args);
    const id = `${idBase}-arguments`;
    this.text = h("textarea", {
      class: "json",
      attrs: { id, rows: "4", spellcheck: "false", "aria-describedby": `${id}-error` },
    });
    this.text.value = JSON.stringify(args, null, 2);
    this.error = h("span", { class: "field-error", attrs: { id: `${id}-error` } });
    this.error.hidden = true;
    this.element = h(
      "details",
      { class: "edit-arguments" },
      h("summary", { text: "Edit arguments" }),
      h("label", { text: "Arguments (JSON)", attrs: { for: id } }),
      this.text,
      this.error,
    );
  }

  /** The edited arguments: `null` if unchanged, `undefined` after showing why they cannot go. */
  read(): Record<string, unknown> | null | undefined {
    this.showErrors([]);
    let value: unknown;
    try {
      value = JSON.parse(this.text.value);
    } catch {
      this.show("Not valid JSON.");
      return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.show("The arguments must be a JSON object.");
      return undefined;
    }
    return JSON.stringify(value) === this.original ? null : (value as Record<string, unknown>);
  }

  /** Show the errors about the arguments (`data.arguments…`); the others are returned. */
  showErrors(errors: readonly ErrorDetail[]): string[] {
    this.error.hidden = true;
    this.text.removeAttribute("aria-invalid");
    const mine = errors.filter((e) => /(?:^|\.)arguments(?:\.|$)/.test(e.path));
    if (mine.length > 0) {
      this.show(mine.map((e) => `${argumentName(e.path)}${e.reason}`).join("; "));
    }
    return errors.filter((e) => !mine.includes(e)).map((e) => e.reason);
  }

  private show(reason: string): void {
    this.element.setAttribute("open", "");
    this.error.textContent = reason;
    this.error.hidden = false;
    this.text.setAttribute("aria-invalid", "true");
    this.text.focus();
  }
}

/** `text: ` for `data.arguments.text`; nothing for the arguments as a whole. */
function argumentName(path: string): string {
  const below = /(?:^|\.)arguments\.(.+)$/.exec(path)?.[1];
  return below === undefined ? "" : `${below}: `;
}

/** What became of a pause: its message, and a question's answer. */
function resolution(event: Resolved): HTMLElement {
  const { kind, message, answer, resolution: how } = event.data;
  const note = h(
    "div",
    { class: "resolution", data: { resolution: how } },
    h("p", { text: message }),
  );
  if (kind === "question" && answer !== null && answer !== undefined) {
    note.append(
      h(
        "div",
        { class: "kv answer" },
        h("span", { class: "label", text: "answer" }),
        h("code", { class: "value", text: formatJson(answer) }),
      ),
    );
  }
  return note;
}

function showProblem(problem: HTMLElement, refusal: Refusal, unplaced: string[]): void {
  const details = unplaced.length > 0 ? `: ${unplaced.join("; ")}` : "";
  problem.textContent = `${refusal.message}${details}`;
  problem.dataset["code"] = refusal.code;
  problem.hidden = false;
}

/** `1:58` from seconds; `1:02:03` past an hour. */
function clock(seconds: number): string {
  const s = seconds % 60;
  const m = Math.floor(seconds / 60) % 60;
  const hours = Math.floor(seconds / 3600);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/** An id's characters as an element id may use them. */
function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}
