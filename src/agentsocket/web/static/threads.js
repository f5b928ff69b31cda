/**
 * The threads sidebar: the user's threads, newest first, with select, rename
 * (inline) and delete (click twice). It only renders; the page sends the
 * requests and feeds the answers back in.
 */
import { formatTime, h } from "./dom.js";
const CONFIRM_MS = 4000;
export class ThreadList {
    root;
    actions;
    threads = new Map();
    running = new Set();
    selected = null;
    editing = null;
    confirming = null;
    confirmTimer;
    constructor(root, actions) {
        this.root = root;
        this.actions = actions;
    }
    /** All threads at once (a `thread_list` answer). */
    replace(threads) {
        this.threads.clear();
        for (const thread of threads)
            this.threads.set(thread.thread_id, thread);
        this.render();
    }
    /** A thread created or renamed. */
    upsert(thread) {
        this.threads.set(thread.thread_id, thread);
        if (this.editing?.threadId === thread.thread_id)
            this.editing = null;
        this.render();
    }
    remove(threadId) {
        this.threads.delete(threadId);
        this.running.delete(threadId);
        this.render();
    }
    /** Something happened in a thread just now: it moves to the top. */
    touch(threadId) {
        const thread = this.threads.get(threadId);
        if (thread === undefined)
            return;
        this.threads.set(threadId, { ...thread, updated_at: Date.now() / 1000 });
        this.render();
    }
    setRunning(threadId, running) {
        if (running)
            this.running.add(threadId);
        else
            this.running.delete(threadId);
        this.render();
    }
    select(threadId) {
        this.selected = threadId;
        this.render();
    }
    get(threadId) {
        return this.threads.get(threadId);
    }
    render() {
        const sorted = [...this.threads.values()].sort((a, b) => b.updated_at - a.updated_at);
        const items = sorted.map((thread) => this.item(thread));
        if (items.length === 0) {
            items.push(h("li", { class: "threads-empty", text: "No chats yet." }));
        }
        this.root.replaceChildren(...items);
        const input = this.root.querySelector("input.rename-input");
        if (input !== null) {
            // Re-rendered while typing: keep typing at the end.
            input.focus();
            input.setSelectionRange(input.value.length, input.value.length);
        }
    }
    item(thread) {
        const id = thread.thread_id;
        const title = thread.title ?? "Untitled";
        const li = h("li", { class: "thread", data: { threadId: id } });
        if (id === this.selected)
            li.setAttribute("aria-current", "true");
        if (this.running.has(id))
            li.classList.add("running");
        if (this.editing?.threadId === id) {
            li.append(this.renameForm(id, this.editing.draft));
            return li;
        }
        const open = h("button", { class: "thread-open", title, onClick: () => this.actions.select(id) }, h("span", { class: "thread-title", text: title }), h("span", { class: "thread-meta" }, this.running.has(id)
            ? h("span", { class: "spinner", attrs: { "aria-label": "running" } })
            : null, formatTime(thread.updated_at)));
        const rename = h("button", {
            class: "thread-action rename",
            text: "Rename",
            onClick: () => {
                this.editing = { threadId: id, draft: thread.title ?? "" };
                this.render();
            },
        });
        const confirming = this.confirming === id;
        const remove = h("button", {
            class: `thread-action delete${confirming ? " confirm" : ""}`,
            text: confirming ? "Delete?" : "Delete",
            title: confirming ? "Click again to delete this chat" : "Delete this chat",
            onClick: () => this.askDelete(id),
        });
        li.append(open, h("div", { class: "thread-actions" }, rename, remove));
        return li;
    }
    renameForm(threadId, draft) {
        const input = h("input", {
            class: "rename-input",
            attrs: { maxlength: "200", "aria-label": "New title", value: draft },
        });
        input.value = draft;
        input.addEventListener("input", () => {
            if (this.editing !== null)
                this.editing.draft = input.value;
        });
        input.addEventListener("keydown", (event) => {
            if (event.key === "Escape")
                this.cancelRename();
        });
        const form = h("form", { class: "rename-form" }, input, h("button", { class: "thread-action", text: "Save", attrs: { type: "submit" } }), h("button", {
            class: "thread-action",
            text: "Cancel",
            attrs: { type: "button" },
            onClick: () => this.cancelRename(),
        }));
        form.addEventListener("submit", (event) => {
            event.preventDefault();
            const title = input.value.trim();
            if (title === "")
                return;
            this.actions.rename(threadId, title);
        });
        return form;
    }
    cancelRename() {
        this.editing = null;
        this.render();
    }
    askDelete(threadId) {
        window.clearTimeout(this.confirmTimer);
        if (this.confirming === threadId) {
            this.confirming = null;
            this.actions.remove(threadId);
        }
        else {
            this.confirming = threadId;
            this.confirmTimer = window.setTimeout(() => {
                this.confirming = null;
                this.render();
            }, CONFIRM_MS);
        }
        this.render();
    }
}
