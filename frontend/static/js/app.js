// Every page: the personal stream (/ws/me/) for signed-in people, notifications as toasts.
// Server data only ever reaches the page through textContent, never innerHTML.

import { connect } from "./realtime.js";
import { safePath } from "./stream_text.js";

const TOAST_MS = 8000;
const MAX_TOASTS = 4;

/**
 * Show a short-lived message in #toasts.
 * @param {string} text
 * @param {{kind?: string}} [options]
 * @returns {HTMLElement|null}
 */
export function toast(text, { kind = "info" } = {}) {
  const container = document.getElementById("toasts");
  if (!container || !text) return null;
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", "status");
  const body = document.createElement("span");
  body.className = "toast-text";
  body.textContent = text;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "toast-close link";
  dismiss.setAttribute("aria-label", "Dismiss");
  dismiss.textContent = "×";
  dismiss.addEventListener("click", () => item.remove());
  item.append(body, " ", dismiss);
  container.append(item);
  while (container.children.length > MAX_TOASTS) container.firstElementChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
  return item;
}

/**
 * Prepend a notification to #notifications when the page has that list.
 * @param {{text?: string, title?: string, url?: string}} data
 * @param {string} [at] ISO timestamp
 */
function listNotification(data, at) {
  const list = document.getElementById("notifications");
  if (!list) return;
  list.querySelector("[data-empty]")?.remove();
  const item = document.createElement("li");
  item.className = "notification";
  const href = safePath(data.url);
  const text = document.createElement(href ? "a" : "span");
  if (href) text.href = href;
  text.textContent = data.text || data.title || "";
  item.append(text);
  if (at) {
    const time = document.createElement("time");
    time.dateTime = at;
    time.className = "muted";
    const when = new Date(at);
    time.textContent = Number.isNaN(when.getTime()) ? "" : ` ${when.toLocaleTimeString()}`;
    item.append(" ", time);
  }
  list.prepend(item);
}

function start() {
  const path = document.body?.dataset.personalSocket;
  if (!path) return;
  const socket = connect(path, {
    onEvent(frame) {
      if (frame.event !== "notification") return;
      const data = frame.data || {};
      toast(data.text || data.title || "New notification");
      listNotification(data, frame.at);
    },
    onRightsChanged() {
      toast("Your access changed. Reload the page to see what is new.", { kind: "warning" });
    },
    onError(frame) {
      console.warn("realtime error", frame.code, frame.message);
    },
  });
  // For debugging in the console, and for browser tests.
  window.coachwire = Object.assign(window.coachwire || {}, { personalSocket: socket });
}

start();
