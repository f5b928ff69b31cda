/**
 * Tiny DOM helpers. Text always goes in as text (never as HTML): everything
 * shown comes from the server, and agent output is untrusted.
 */

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  title?: string;
  attrs?: Record<string, string>;
  data?: Record<string, string>;
  onClick?: () => void;
}

/** `h("li", { class: "event tool" }, child, "text")`: an element with its children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class !== undefined) element.className = props.class;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.title !== undefined) element.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const [name, value] of Object.entries(props.data ?? {})) element.dataset[name] = value;
  const onClick = props.onClick;
  if (onClick !== undefined) element.addEventListener("click", () => onClick());
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

/** The element with this id; throws if the page lacks it (a bug in index.html). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

/** `0.8 ms`, `42 ms`, `1.3 s`. */
export function formatDuration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A run's token usage, short: "1,234 tokens (1,000 in · 234 out)". */
export function formatUsage(usage: {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
}): string {
  const n = (count: number): string => count.toLocaleString("en-US");
  const total = `${n(usage.total_tokens)} token${usage.total_tokens === 1 ? "" : "s"}`;
  return `${total} (${n(usage.input_tokens)} in · ${n(usage.output_tokens)} out)`;
}

/** A JSON value on one line, shortened past `max` characters. */
export function formatJson(value: unknown, max = 400): string {
  const text =
    typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? "null");
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Unix seconds as a short local time: today `14:05`, otherwise `3 Dec 14:05`. */
export function formatTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === new Date().toDateString()) return time;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}
