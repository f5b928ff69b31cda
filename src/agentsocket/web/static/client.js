/**
 * A small browser client for the agentsocket gateway, protocol v3.
 *
 * - connects with a single-use ticket (`POST /auth/ticket` with the access
 *   token, then `/ws?ticket=...`), fetched anew for every (re)connect, and
 *   offers the `agentsocket.v3` subprotocol;
 * - sends `ping` every `heartbeat_interval` of the welcome; a ping still
 *   unanswered at the next one means the connection is dead;
 * - reconnects with exponential backoff and jitter after a network drop or a
 *   close code that says so (`RECONNECT_CLOSE_CODES`, docs/close-codes.md);
 * - resumes the user's stream from the last `seq` it saw (`?last_seq=&epoch=`
 *   on the handshake; also a position kept across a page reload, `resumeFrom`)
 *   and drops duplicates (`seq` <= the last seen);
 * - re-sends chat messages that were not acknowledged, with the same
 *   `client_message_id`, so the server never starts a run twice.
 *
 * Every frame shape comes from `protocol.d.ts`, generated from the server's
 * JSON Schema; this module has no message formats of its own.
 *
 *     const client = new AgentSocketClient({ token });
 *     client.on("agent_message_delta", (m) => append(m.data.content));
 *     client.onState((change) => show(change.state));
 *     client.connect();
 *     client.sendUserMessage("what is 17*23 in hex?");
 */
import { CloseCode, RECONNECT_CLOSE_CODES } from "./codes.js";
/** The protocol version whose types this client is built on. */
export const PROTOCOL_VERSION = "v3";
const MAX_QUEUED = 100;
/** Closes that are network drops, not decisions: reconnect after them too. */
const DROP_CODES = new Set([1005, 1006]);
/** The `reason` of a state change caused by a network drop. */
export const DROPPED = "network";
export class AgentSocketClient {
    baseUrl;
    token;
    initialBackoffMs;
    maxBackoffMs;
    ticketTimeoutMs;
    socket = null;
    state = "closed";
    attempt = 0;
    retryTimer;
    heartbeatTimer;
    awaitingPong = false;
    wanted = false;
    minimumDelayMs = 0;
    nextId = 0;
    epoch = null;
    lastSeq = null;
    welcome = null;
    queue = [];
    /** Chat messages sent but neither acknowledged nor refused yet, by correlation id. */
    unacknowledged = new Map();
    listeners = new Map();
    stateListeners = new Set();
    constructor(options) {
        this.token = options.token;
        this.baseUrl = new URL(options.baseUrl ?? ".", document.baseURI);
        this.initialBackoffMs = options.initialBackoffMs ?? 500;
        this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
        this.ticketTimeoutMs = options.ticketTimeoutMs ?? 5_000;
        if (options.resumeFrom) {
            this.epoch = options.resumeFrom.epoch;
            this.lastSeq = options.resumeFrom.seq;
        }
    }
    // --- events ----------------------------------------------------------------------
    /** Call `listener` with every message of `type`; returns a function that unsubscribes. */
    on(type, listener) {
        return this.listen(type, listener);
    }
    /** Call `listener` with every message, after the listeners of its type. */
    onMessage(listener) {
        return this.listen("*", listener);
    }
    /** Call `listener` on every connection state change. */
    onState(listener) {
        this.stateListeners.add(listener);
        return () => this.stateListeners.delete(listener);
    }
    get connectionState() {
        return this.state;
    }
    /** The welcome of the current (or last) connection: version, heartbeat, stream. */
    get session() {
        return this.welcome;
    }
    /** The stream position a reconnect resumes from. */
    get position() {
        return { epoch: this.epoch, seq: this.lastSeq };
    }
    // --- lifecycle -------------------------------------------------------------------
    /** Open the connection; it stays up (reconnecting as needed) until `close()`. */
    connect() {
        if (this.wanted)
            return;
        this.wanted = true;
        this.attempt = 0;
        void this.open();
    }
    /** Close for good: no reconnect. */
    close() {
        this.wanted = false;
        window.clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.stopHeartbeat();
        const socket = this.socket;
        this.socket = null;
        if (socket !== null) {
            detach(socket);
            socket.close(1000, "bye");
        }
        this.setState({ state: "closed", attempt: this.attempt, reason: "closed by the page" });
    }
    /** Drop the current connection and reconnect at once (e.g. when the browser is back online). */
    reconnectNow() {
        if (!this.wanted || this.retryTimer === undefined)
            return; // not waiting to retry
        window.clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        void this.open();
    }
    // --- sending ---------------------------------------------------------------------
    /**
     * Send a frame, or queue it until the connection is open.
     *
     * Returns the frame's correlation id (one is made up if it has none); the
     * server's answers carry it back.
     */
    send(frame) {
        const correlationId = frame.correlation_id ?? `web-${++this.nextId}`;
        const framed = { ...frame, correlation_id: correlationId };
        const text = JSON.stringify(framed);
        if (framed.type === "user_message")
            this.unacknowledged.set(correlationId, text);
        if (this.state === "open" && this.socket !== null) {
            this.socket.send(text);
        }
        else if (framed.type !== "ping" && framed.type !== "user_message") {
            if (this.queue.length >= MAX_QUEUED)
                this.queue.shift();
            this.queue.push(text);
        }
        return correlationId;
    }
    /**
     * Ask `agent` (the server's default when null); a new thread when `threadId`
     * is null. Re-sent after a reconnect until acknowledged.
     */
    sendUserMessage(content, threadId = null, agent = null, clientMessageId = crypto.randomUUID()) {
        const data = {
            content,
            thread_id: threadId,
            client_message_id: clientMessageId,
            agent,
            metadata: { source: "web" },
        };
        return this.send({ type: "user_message", data });
    }
    stopAgent(runId) {
        return this.send({ type: "stop_agent", data: { run_id: runId } });
    }
    /** Answer a `tool_approval_required`; `args` (approved only): run it with these arguments. */
    answerApproval(runId, toolCallId, approved, reason, args) {
        const data = {
            run_id: runId,
            tool_call_id: toolCallId,
            approved,
            reason: reason ?? null,
            ...(args === undefined || args === null ? {} : { arguments: args }),
        };
        return this.send({ type: "tool_approval", data });
    }
    /** Answer an `agent_question`; the answer must satisfy its `answer_schema`. */
    answerQuestion(runId, questionId, answer) {
        return this.send({
            type: "question_answer",
            data: { run_id: runId, question_id: questionId, answer },
        });
    }
    createThread(title = null) {
        return this.send({ type: "create_thread", data: { title } });
    }
    listThreads(limit = 50) {
        return this.send({ type: "list_threads", data: { limit } });
    }
    threadHistory(threadId, limit = 200) {
        return this.send({ type: "get_thread_history", data: { thread_id: threadId, limit } });
    }
    renameThread(threadId, title) {
        return this.send({ type: "rename_thread", data: { thread_id: threadId, title } });
    }
    deleteThread(threadId) {
        return this.send({ type: "delete_thread", data: { thread_id: threadId } });
    }
    ping() {
        return this.send({ type: "ping", data: { client_time: Date.now() / 1000 } });
    }
    // --- internals -------------------------------------------------------------------
    listen(type, listener) {
        let set = this.listeners.get(type);
        if (set === undefined) {
            set = new Set();
            this.listeners.set(type, set);
        }
        set.add(listener);
        return () => set.delete(listener);
    }
    setState(change) {
        this.state = change.state;
        for (const listener of this.stateListeners)
            listener(change);
    }
    async open() {
        this.setState({
            state: this.attempt === 0 && this.welcome === null ? "connecting" : "reconnecting",
            attempt: this.attempt,
        });
        let ticket;
        try {
            ticket = await this.fetchTicket();
        }
        catch (error) {
            if (error instanceof AuthError) {
                this.wanted = false;
                // The same close codes a refused handshake would get.
                const code = error.message === "expired" ? CloseCode.TOKEN_EXPIRED : CloseCode.UNAUTHORIZED;
                this.setState({ state: "closed", attempt: this.attempt, code, reason: error.message });
            }
            else {
                this.retry(undefined, DROPPED);
            }
            return;
        }
        if (!this.wanted)
            return;
        const url = new URL("ws", this.baseUrl);
        url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        url.searchParams.set("ticket", ticket);
        if (this.lastSeq !== null) {
            url.searchParams.set("last_seq", String(this.lastSeq));
            if (this.epoch !== null)
                url.searchParams.set("epoch", this.epoch);
        }
        // A ticket authenticates, so the only subprotocol entry is the version, which the server echoes.
        const socket = new WebSocket(url, [`agentsocket.${PROTOCOL_VERSION}`]);
        this.socket = socket;
        socket.onmessage = (event) => this.receive(event);
        socket.onclose = (event) => this.closed(socket, event.code, event.reason);
        socket.onerror = () => {
            /* a close event always follows; it decides */
        };
    }
    async fetchTicket() {
        const response = await fetch(new URL("auth/ticket", this.baseUrl), {
            method: "POST",
            headers: { authorization: `Bearer ${this.token}` },
            signal: AbortSignal.timeout(this.ticketTimeoutMs),
        });
        if (response.status === 401) {
            const body = (await response.json().catch(() => ({})));
            throw new AuthError(body.error ?? "unauthorized");
        }
        if (!response.ok)
            throw new Error(`ticket: HTTP ${response.status}`);
        const body = (await response.json());
        return body.ticket;
    }
    receive(event) {
        if (typeof event.data !== "string")
            return;
        let message;
        try {
            message = JSON.parse(event.data);
        }
        catch {
            return;
        }
        this.awaitingPong = false;
        if (message.seq !== null && message.seq !== undefined) {
            if (this.lastSeq !== null && message.seq <= this.lastSeq)
                return; // already delivered
            this.lastSeq = message.seq;
        }
        switch (message.type) {
            case "connection_established":
                this.established(message.data);
                break;
            case "stream_gap":
                // Entries up to to_seq are gone for good: go on after them, in the stream's epoch.
                this.epoch = message.data.epoch;
                this.lastSeq = message.data.to_seq;
                break;
            case "message_received":
            case "error":
                if (message.correlation_id !== null)
                    this.unacknowledged.delete(message.correlation_id);
                break;
            case "server_shutdown":
                this.minimumDelayMs = message.data.reconnect_after * 1000;
                break;
            default:
                break;
        }
        this.emit(message);
    }
    established(welcome) {
        this.welcome = welcome;
        if (welcome.stream !== null && this.lastSeq === null) {
            // First connection: everything up to here is history, read with get_thread_history.
            this.epoch = welcome.stream.epoch;
            this.lastSeq = welcome.stream.seq;
        }
        this.attempt = 0;
        this.minimumDelayMs = 0;
        this.setState({ state: "open", attempt: 0 });
        this.startHeartbeat((welcome.heartbeat_interval ?? 25) * 1000);
        for (const text of this.queue.splice(0))
            this.socket?.send(text);
        // The same client_message_id again: the server starts no second run, it acknowledges.
        for (const text of this.unacknowledged.values())
            this.socket?.send(text);
    }
    emit(message) {
        for (const key of [message.type, "*"]) {
            for (const listener of this.listeners.get(key) ?? []) {
                try {
                    listener(message);
                }
                catch (error) {
                    console.error(`agentsocket: a ${message.type} listener failed`, error);
                }
            }
        }
    }
    closed(socket, code, reason) {
        if (socket !== this.socket)
            return;
        this.socket = null;
        this.stopHeartbeat();
        if (!this.wanted)
            return;
        if (RECONNECT_CLOSE_CODES.has(code) || DROP_CODES.has(code)) {
            this.retry(code, reason || DROPPED);
        }
        else {
            this.wanted = false;
            this.setState({ state: "closed", attempt: this.attempt, code, reason });
        }
    }
    retry(code, reason) {
        if (!this.wanted)
            return;
        // Full jitter over the upper half of the exponential step: clients dropped
        // together do not come back together.
        const step = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** this.attempt);
        const delay = Math.max(this.minimumDelayMs, step / 2 + Math.random() * (step / 2));
        this.attempt += 1;
        const change = {
            state: "reconnecting",
            attempt: this.attempt,
            reason,
            retryInMs: Math.round(delay),
        };
        if (code !== undefined)
            change.code = code;
        this.setState(change);
        window.clearTimeout(this.retryTimer);
        this.retryTimer = window.setTimeout(() => {
            this.retryTimer = undefined;
            void this.open();
        }, delay);
    }
    startHeartbeat(intervalMs) {
        this.stopHeartbeat();
        this.awaitingPong = true;
        this.ping(); // at once, so the latency is known from the start
        this.heartbeatTimer = window.setInterval(() => {
            if (this.awaitingPong) {
                // Nothing at all came back for a whole interval: the connection is dead.
                const socket = this.socket;
                if (socket !== null) {
                    this.socket = null;
                    detach(socket);
                    socket.close();
                }
                this.stopHeartbeat();
                this.retry(undefined, "no answer to ping");
                return;
            }
            this.awaitingPong = true;
            this.ping();
        }, intervalMs);
    }
    stopHeartbeat() {
        window.clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = undefined;
    }
}
/** The access token was refused (`/auth/ticket` answered 401): sign in again. */
export class AuthError extends Error {
    name = "AuthError";
}
function detach(socket) {
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
}
