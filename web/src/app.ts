/**
 * The web chat page: sign-in, threads sidebar, transcript, composer and the
 * connection status, wired to one `AgentSocketClient`.
 *
 * State that survives a reload: the token and user name (sessionStorage), the
 * agent picked for each thread (sessionStorage, `AgentPicker`), the user's
 * stream position (sessionStorage: the reloaded page resumes the stream) and
 * the open thread (the URL's `#thread_id`).
 *
 * Opening a thread shows its history's first page, then the runs still in
 * flight that the answer carries (`events`), then only this thread's stream
 * messages past the answer's `stream_seq`: a run joined mid-way, after a
 * reload or from another device, shows every event exactly once.
 *
 * On a narrow screen the thread list is a panel that the "Chats" button in the
 * chat header opens and closes (CSS decides when the button shows).
 */
import { AgentPicker } from "./agents.js";
import {
  AgentSocketClient,
  DROPPED,
  type ConnectionState,
  type ServerMessageOf,
  type StateChange,
  type StreamPosition,
} from "./client.js";
import { CloseCode } from "./codes.js";
import { byId, h } from "./dom.js";
import { ThreadList } from "./threads.js";
import { AGENT_EVENTS, RUN_ENDS, Transcript, type AgentEvent } from "./transcript.js";

const TOKEN_KEY = "agentsocket.token";
const USER_KEY = "agentsocket.user";
/** The user's stream position, `{user, epoch, seq}`, so a reload resumes the stream. */
const STREAM_KEY = "agentsocket.stream";
const SUGGESTIONS = [
  "what is 17*23 in hex?",
  "5 miles to km",
  "take it slow",
  "please approve this announcement",
  "a quick survey",
];

const page = {
  signin: byId("signin"),
  signinForm: byId<HTMLFormElement>("signin-form"),
  signinUser: byId<HTMLInputElement>("signin-user"),
  signinError: byId("signin-error"),
  tokenDetails: byId<HTMLDetailsElement>("token-signin"),
  tokenInput: byId<HTMLTextAreaElement>("signin-token"),
  tokenButton: byId<HTMLButtonElement>("token-button"),
  app: byId("app"),
  status: byId("status"),
  statusText: byId("status-text"),
  protocol: byId("protocol"),
  latency: byId("latency"),
  user: byId("user"),
  userName: byId("user-name"),
  signOut: byId<HTMLButtonElement>("sign-out"),
  banner: byId("banner"),
  sidebar: byId("sidebar"),
  threadsToggle: byId<HTMLButtonElement>("threads-toggle"),
  threadsClose: byId<HTMLButtonElement>("threads-close"),
  threads: byId<HTMLUListElement>("threads"),
  newThread: byId<HTMLButtonElement>("new-thread"),
  threadTitle: byId("thread-title"),
  transcript: byId("transcript"),
  suggestions: byId("suggestions"),
  composer: byId<HTMLFormElement>("composer"),
  prompt: byId<HTMLTextAreaElement>("prompt"),
  agentPicker: byId("agent-picker"),
  agent: byId<HTMLSelectElement>("agent"),
  agentDescription: byId("agent-description"),
  stop: byId<HTMLButtonElement>("stop"),
};

let client: AgentSocketClient | null = null;
let currentThread: string | null = null;
/** Correlation id of a message sent from "New chat", until its thread is known. */
let pendingNewThread: string | null = null;
/** Root runs still going: run id → thread id. */
const runningRuns = new Map<string, string>();
/** Correlation id of the last history request, to notice a thread that is gone. */
let historyRequest: string | undefined;
/** Root runs the user asked to stop, until they end. */
const stopping = new Set<string>();
/** The user's bubbles waiting for `message_received`, by correlation id. */
const pendingBubbles = new Map<string, HTMLElement>();

type Accepted = ServerMessageOf<"user_message_accepted">;
/** A stream message shown in the open thread's transcript. */
type ThreadFrame = AgentEvent | Accepted;
/** The open thread's history is on its way: its stream messages wait here meanwhile. */
let awaitingHistory = false;
const held: ThreadFrame[] = [];
/** The open thread's history reflects the stream up to this seq: only later messages apply. */
let historyCut: number | null = null;
/** Runs whose answer the open thread's history shows: nothing more of them is drawn. */
const answeredRuns = new Set<string>();
const AGENT_TYPES: ReadonlySet<string> = new Set(AGENT_EVENTS);

const threadList = new ThreadList(page.threads, {
  select: (threadId) => {
    showThreads(false);
    openThread(threadId);
  },
  rename: (threadId, title) => client?.renameThread(threadId, title),
  remove: (threadId) => client?.deleteThread(threadId),
});
const agentPicker = new AgentPicker({
  root: page.agentPicker,
  select: page.agent,
  description: page.agentDescription,
});
const transcript = new Transcript(page.transcript, {
  approve: (runId, toolCallId, approved, args) =>
    client?.answerApproval(runId, toolCallId, approved, undefined, args),
  answer: (runId, questionId, answer) => client?.answerQuestion(runId, questionId, answer),
});

// --- sign-in ---------------------------------------------------------------------

async function signInWithName(name: string): Promise<void> {
  showSigninError(null);
  let response: Response;
  try {
    response = await fetch(new URL("auth/dev-token", document.baseURI), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: name }),
    });
  } catch {
    showSigninError("Cannot reach the server. Is it running?");
    return;
  }
  if (response.status === 404 || response.status === 405) {
    // The route exists only in dev mode; without it the static files answer.
    showSigninError(
      "Dev sign-in is off on this server (start it with `agentsocket serve --dev`). " +
        "Sign in with an access token instead.",
    );
    page.tokenDetails.open = true;
    return;
  }
  if (!response.ok) {
    showSigninError(`Sign-in failed: HTTP ${response.status}.`);
    return;
  }
  const body = (await response.json()) as { token: string; user_id: string };
  start(body.token, body.user_id);
}

function showSigninError(message: string | null): void {
  page.signinError.hidden = message === null;
  page.signinError.textContent = message ?? "";
}

function showSignin(message: string | null): void {
  page.app.hidden = true;
  page.user.hidden = true;
  page.signin.hidden = false;
  showSigninError(message);
  page.signinUser.focus();
}

function start(token: string, userName: string | null): void {
  sessionStorage.setItem(TOKEN_KEY, token);
  if (userName !== null) sessionStorage.setItem(USER_KEY, userName);
  page.signin.hidden = true;
  page.app.hidden = false;
  page.user.hidden = false;
  showUserName(userName ?? "…");
  connect(token, savedPosition(userName));
}

/** The stream position this tab kept for `userName` (any user's, for a token sign-in). */
function savedPosition(userName: string | null): StreamPosition | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STREAM_KEY) ?? "null") as {
      user: string;
      epoch: string;
      seq: number;
    } | null;
    if (saved === null || (userName !== null && saved.user !== userName)) return null;
    return { epoch: saved.epoch, seq: saved.seq };
  } catch {
    return null;
  }
}

function savePosition(from: AgentSocketClient): void {
  const { epoch, seq } = from.position;
  const user = from.session?.user_id;
  if (epoch === null || seq === null || user === undefined) return;
  sessionStorage.setItem(STREAM_KEY, JSON.stringify({ user, epoch, seq }));
}

/** The signed-in user; a long name is shortened on narrow screens, whole in its tooltip. */
function showUserName(name: string): void {
  page.userName.textContent = name;
  page.userName.title = name;
}

function signOut(message: string | null): void {
  client?.close();
  client = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  sessionStorage.removeItem(STREAM_KEY);
  agentPicker.forgetAll();
  setStatus("closed", "Signed out");
  page.protocol.hidden = true;
  page.latency.textContent = "";
  // Nothing of this user stays on the page.
  newChat();
  threadList.replace([]);
  runningRuns.clear();
  stopping.clear();
  pendingBubbles.clear();
  hideBanner("warning");
  hideBanner("error");
  showSignin(message);
}

// --- connection ------------------------------------------------------------------

function connect(token: string, resumeFrom: StreamPosition | null): void {
  client?.close();
  const next = new AgentSocketClient({ token, resumeFrom });
  client = next;
  let firstOpen = true;

  next.onState((change) => {
    showState(change);
    if (change.state === "open" && firstOpen) {
      firstOpen = false;
      next.listThreads();
      const fromUrl = decodeURIComponent(location.hash.slice(1));
      if (fromUrl !== "") openThread(fromUrl);
      else newChat();
    }
    if (change.state === "closed" && change.code === CloseCode.TOKEN_EXPIRED) {
      signOut("Your session expired. Please sign in again.");
    } else if (change.state === "closed" && change.code === CloseCode.UNAUTHORIZED) {
      signOut(
        `The server refused the token (${change.reason ?? "unauthorized"}). Please sign in again.`,
      );
    }
  });

  next.on("connection_established", (m) => {
    page.protocol.textContent = `protocol ${m.data.protocol_version}`;
    page.protocol.hidden = false;
    showUserName(m.data.user_id);
    agentPicker.offer(m.data.agents, m.data.default_agent);
  });
  next.on("pong", (m) => {
    if (m.data.client_time !== null) {
      page.latency.textContent = `${Math.max(0, Math.round(Date.now() - m.data.client_time * 1000))} ms`;
    }
  });
  next.on("thread_list", (m) => {
    threadList.replace(m.data.threads);
    showTitle();
  });
  next.on("thread_created", (m) => {
    threadList.upsert(m.data.thread);
    if (pendingNewThread !== null && m.correlation_id === pendingNewThread) {
      adoptThread(m.data.thread.thread_id);
    }
  });
  next.on("thread_renamed", (m) => {
    threadList.upsert(m.data.thread);
    if (m.data.thread.thread_id === currentThread) showTitle();
  });
  next.on("thread_deleted", (m) => {
    threadList.remove(m.data.thread_id);
    agentPicker.forget(m.data.thread_id);
    if (m.data.thread_id === currentThread) newChat();
  });
  next.on("thread_history", (m) => {
    if (m.data.thread_id !== currentThread) return;
    answeredRuns.clear();
    for (const message of m.data.messages) {
      if (message.role === "assistant" && message.run_id !== null) answeredRuns.add(message.run_id);
    }
    transcript.showHistory(m.data.messages, m.data.runs);
    // The runs in flight so far, then what arrived meanwhile past the cut.
    for (const frame of m.data.events as unknown as ThreadFrame[]) {
      if (frame.type === "user_message_accepted") {
        render(frame);
      } else if (AGENT_TYPES.has(frame.type)) {
        trackRun(frame);
        render(frame);
      } // a type this page does not know, from a newer server: skipped, as live
    }
    updateStop();
    historyCut = m.data.stream_seq;
    awaitingHistory = false;
    for (const frame of held.splice(0)) toTranscript(frame);
  });
  next.on("user_message_accepted", (m) => {
    threadList.touch(m.data.thread_id);
    if (m.data.thread_id === currentThread) toTranscript(m);
  });
  next.on("message_received", (m) => {
    const bubble = m.correlation_id === null ? undefined : pendingBubbles.get(m.correlation_id);
    if (bubble !== undefined && m.correlation_id !== null) {
      pendingBubbles.delete(m.correlation_id);
      bubble.classList.remove("pending");
      bubble.dataset["messageId"] = m.data.message_id;
    }
    if (pendingNewThread !== null && m.correlation_id === pendingNewThread) {
      adoptThread(m.data.thread_id);
    }
    threadList.touch(m.data.thread_id);
    if (!m.data.duplicate) transcript.acceptedAt(m.data.run_id, m.timestamp);
  });
  next.on("stream_gap", () => {
    // Missed stream entries are gone: read the state again instead.
    showBanner("Some updates were missed while offline; reloaded this chat.", "info");
    next.listThreads();
    if (currentThread !== null) openThread(currentThread);
  });
  next.on("error", (m) => {
    if (m.correlation_id !== null && m.correlation_id === historyRequest) {
      newChat();
      showBanner("That chat does not exist (any more).", "error");
      return;
    }
    // A refused answer to an approval or a question shows on its form, not in the banner.
    if (m.correlation_id !== null && transcript.refused(m.correlation_id, m.data)) return;
    const bubble = m.correlation_id === null ? undefined : pendingBubbles.get(m.correlation_id);
    if (bubble !== undefined) bubble.classList.replace("pending", "failed");
    if (m.correlation_id !== null && m.correlation_id === pendingNewThread) pendingNewThread = null;
    showBanner(`${m.data.code}: ${m.data.message}`, "error");
  });
  next.on("server_shutdown", (m) => {
    showBanner(`The server is restarting; reconnecting in ${m.data.reconnect_after} s…`, "info");
  });
  next.on("deprecation_notice", (m) => showBanner(m.data.message, "info"));
  for (const type of AGENT_EVENTS) next.on(type, (m: AgentEvent) => agentEvent(m));
  // Kept after every stream message, so a reload resumes where this page was.
  next.onMessage((m) => {
    if ((m.seq !== null && m.seq !== undefined) || m.type === "connection_established") {
      savePosition(next);
    }
  });

  next.connect();
}

function agentEvent(event: AgentEvent): void {
  trackRun(event);
  if (event.data.thread_id === currentThread) toTranscript(event);
  updateStop();
}

/** Keep the running root runs (Stop button, spinners in the thread list). */
function trackRun(event: AgentEvent): void {
  const { run_id: runId, thread_id: threadId, parent_run_id: parent } = event.data;
  if (parent === null && event.type === "agent_started") {
    runningRuns.set(runId, threadId);
    threadList.setRunning(threadId, true);
  }
  if (parent === null && RUN_ENDS.has(event.type)) {
    runningRuns.delete(runId);
    stopping.delete(runId);
    threadList.setRunning(threadId, [...runningRuns.values()].includes(threadId));
  }
}

/** A stream message of the open thread: held while its history loads, then drawn once. */
function toTranscript(frame: ThreadFrame): void {
  if (awaitingHistory) {
    held.push(frame);
    return;
  }
  if (historyCut !== null && frame.seq !== null && frame.seq <= historyCut) return;
  if (answeredRuns.has(frame.data.run_id)) return; // its end, after the stored answer
  render(frame);
}

function render(frame: ThreadFrame): void {
  if (frame.type === "user_message_accepted") {
    const { message_id: messageId, client_message_id: clientMessageId, content } = frame.data;
    transcript.addAccepted(messageId, clientMessageId, content);
  } else {
    transcript.apply(frame);
  }
}

/** The open thread changed: nothing of the previous one is held or filtered. */
function resetThreadView(loading: boolean): void {
  awaitingHistory = loading;
  held.length = 0;
  historyCut = null;
  answeredRuns.clear();
}

/** Why the connection was lost, while reconnecting. */
let lostBecause: string | null = null;

function showState(change: StateChange): void {
  const labels: Record<ConnectionState, string> = {
    connecting: "Connecting…",
    open: "Connected",
    reconnecting:
      change.retryInMs !== undefined
        ? `Reconnecting in ${(change.retryInMs / 1000).toFixed(1)} s (attempt ${change.attempt})…`
        : `Reconnecting (attempt ${Math.max(1, change.attempt)})…`,
    closed: change.reason ? `Disconnected: ${change.reason}` : "Disconnected",
  };
  setStatus(change.state, labels[change.state]);
  if (change.state === "reconnecting") {
    // Name why the connection was lost, not why the latest attempt failed.
    lostBecause ??= change.reason ?? DROPPED;
    const why = lostBecause === DROPPED ? "" : ` (${lostBecause})`;
    showBanner(
      `Connection lost${why}. Reconnecting; the chat resumes where it left off.`,
      "warning",
      false,
    );
  } else if (change.state === "open") {
    lostBecause = null;
    hideBanner("warning");
  } else if (change.state === "closed" && change.code !== undefined) {
    showBanner(
      `Disconnected (${change.code}): ${change.reason ?? ""}. Reload the page to try again.`,
      "error",
      false,
    );
  }
}

function setStatus(state: ConnectionState, text: string): void {
  page.status.dataset["state"] = state;
  page.statusText.textContent = text;
}

let bannerTimer: number | undefined;

function showBanner(text: string, kind: "info" | "warning" | "error", expire = true): void {
  window.clearTimeout(bannerTimer);
  page.banner.textContent = text;
  page.banner.dataset["kind"] = kind;
  page.banner.hidden = false;
  if (expire) bannerTimer = window.setTimeout(() => (page.banner.hidden = true), 8000);
}

function hideBanner(kind: string): void {
  if (page.banner.dataset["kind"] === kind) page.banner.hidden = true;
}

// --- threads ---------------------------------------------------------------------

/** Opens or closes the thread list (a panel on narrow screens). */
function showThreads(open: boolean, focus = false): void {
  page.sidebar.classList.toggle("open", open);
  page.threadsToggle.setAttribute("aria-expanded", String(open));
  if (!focus) return;
  if (open) {
    const target =
      page.threads.querySelector<HTMLElement>(".thread[aria-current='true'] .thread-open") ??
      page.newThread;
    target.focus();
  } else {
    page.threadsToggle.focus();
  }
}

function openThread(threadId: string): void {
  currentThread = threadId;
  pendingNewThread = null;
  history.replaceState(null, "", `#${encodeURIComponent(threadId)}`);
  threadList.select(threadId);
  agentPicker.showThread(threadId);
  showTitle();
  transcript.showLoading();
  resetThreadView(true);
  historyRequest = client?.threadHistory(threadId);
  updateStop();
  page.prompt.focus();
}

function newChat(): void {
  currentThread = null;
  pendingNewThread = null;
  history.replaceState(null, "", location.pathname + location.search);
  threadList.select(null);
  agentPicker.showThread(null);
  showTitle();
  transcript.clear();
  resetThreadView(false);
  updateStop();
  page.prompt.focus();
}

/** The thread a message from "New chat" started: it becomes the open thread, keeping what is shown. */
function adoptThread(threadId: string): void {
  pendingNewThread = null;
  currentThread = threadId;
  history.replaceState(null, "", `#${encodeURIComponent(threadId)}`);
  threadList.select(threadId);
  agentPicker.adopt(threadId);
  showTitle();
}

function showTitle(): void {
  const thread = currentThread === null ? undefined : threadList.get(currentThread);
  // A thread not listed yet (just after a reload) gets its title with the list.
  const title = thread === undefined ? "…" : (thread.title ?? "Untitled");
  page.threadTitle.textContent = currentThread === null ? "New chat" : title;
}

// --- composer --------------------------------------------------------------------

function sendPrompt(text?: string): void {
  const content = (text ?? page.prompt.value).trim();
  if (content === "" || client === null) return;
  const clientMessageId = crypto.randomUUID();
  const bubble = transcript.addUser(content, clientMessageId);
  const correlationId = client.sendUserMessage(
    content,
    currentThread,
    agentPicker.current,
    clientMessageId,
  );
  pendingBubbles.set(correlationId, bubble);
  if (currentThread === null) pendingNewThread = correlationId;
  if (text === undefined) page.prompt.value = "";
}

function runsOfCurrentThread(): string[] {
  return [...runningRuns]
    .filter(([, threadId]) => threadId === currentThread)
    .map(([runId]) => runId);
}

function updateStop(): void {
  const running = runsOfCurrentThread();
  const allStopping = running.length > 0 && running.every((runId) => stopping.has(runId));
  page.stop.hidden = running.length === 0;
  page.stop.disabled = allStopping;
  page.stop.textContent = allStopping ? "Stopping…" : "Stop";
}

function stopRuns(): void {
  for (const runId of runsOfCurrentThread()) {
    stopping.add(runId);
    client?.stopAgent(runId);
  }
  updateStop();
  // The button goes away when the run ends; typing goes on where it was.
  page.prompt.focus();
}

// --- wiring ----------------------------------------------------------------------

page.signinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = page.signinUser.value.trim();
  if (name !== "") void signInWithName(name);
});
page.tokenButton.addEventListener("click", () => {
  const token = page.tokenInput.value.trim();
  if (token !== "") start(token, null);
});
page.signOut.addEventListener("click", () => signOut(null));
page.newThread.addEventListener("click", () => {
  showThreads(false);
  newChat();
});
page.threadsToggle.addEventListener("click", () =>
  showThreads(!page.sidebar.classList.contains("open"), true),
);
page.threadsClose.addEventListener("click", () => showThreads(false, true));
// A tap beside the open panel closes it, as on any phone.
page.app.addEventListener("click", (event) => {
  const target = event.target as Node;
  if (
    page.sidebar.classList.contains("open") &&
    !page.sidebar.contains(target) &&
    !page.threadsToggle.contains(target)
  ) {
    showThreads(false);
  }
});
page.sidebar.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && page.sidebar.classList.contains("open")) {
    showThreads(false, true);
  }
});
page.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendPrompt();
});
page.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendPrompt();
  }
});
page.stop.addEventListener("click", () => stopRuns());
page.suggestions.replaceChildren(
  ...SUGGESTIONS.map((text) =>
    h("button", {
      class: "chip",
      text,
      attrs: { type: "button" },
      onClick: () => {
        sendPrompt(text);
        page.prompt.focus();
      },
    }),
  ),
);
window.addEventListener("online", () => client?.reconnectNow());
window.addEventListener("hashchange", () => {
  const threadId = decodeURIComponent(location.hash.slice(1));
  if (threadId !== "" && threadId !== currentThread) openThread(threadId);
});

const savedToken = sessionStorage.getItem(TOKEN_KEY);
if (savedToken !== null) start(savedToken, sessionStorage.getItem(USER_KEY));
else showSignin(null);
