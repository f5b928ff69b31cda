/**
 * Agent answers as Markdown: parsed by `marked`, sanitised by `DOMPurify`.
 *
 * A language model's output is untrusted. Two fences keep it from running
 * or inserting anything but formatted text: raw HTML in the Markdown is shown
 * as text (never parsed), and what `marked` produces is then sanitised to an
 * allow-list of formatting elements, with links opening in a new tab and
 * images shown as links (no request leaves the page by itself).
 */
import DOMPurify from "dompurify";
import { Marked } from "marked";
const ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
};
function escapeHtml(text) {
    return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}
const markdown = new Marked({
    gfm: true,
    // Chat answers break lines where they mean to.
    breaks: true,
    renderer: {
        html({ text }) {
            return escapeHtml(text);
        },
        image({ href, text }) {
            return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
        },
    },
});
const ALLOWED_TAGS = [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "input", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
];
// `class` carries a code block's language, `start` an ordered list's first number,
// `type`/`checked`/`disabled` a task list's check boxes.
const ALLOWED_ATTR = ["href", "title", "class", "start", "align", "type", "checked", "disabled"];
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node instanceof HTMLAnchorElement) {
        node.target = "_blank";
        node.rel = "noopener noreferrer nofollow";
    }
    // The only inputs are a task list's check boxes (raw HTML never gets here): read-only.
    if (node instanceof HTMLInputElement) {
        node.type = "checkbox";
        node.disabled = true;
    }
});
/** `source` as sanitised HTML nodes, ready to append. */
export function renderMarkdown(source) {
    const html = markdown.parse(source, { async: false }).trim();
    return DOMPurify.sanitize(html, {
        ALLOWED_TAGS,
        ALLOWED_ATTR,
        ALLOW_DATA_ATTR: false,
        RETURN_DOM_FRAGMENT: true,
    });
}
/** Replace what `element` shows with `source` rendered as Markdown. */
export function showMarkdown(element, source) {
    element.replaceChildren(renderMarkdown(source));
}
