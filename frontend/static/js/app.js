// Every page: the personal stream (/ws/me/) for signed-in people, notifications as toasts.
// Server data only ever reaches the page through textContent, never innerHTML.

import { connect } from "./realtime.js";
import { safePath } from "./stream_text.js";

const TOAST_MS = 8000;
const MAX_TOASTS = 4;

/**
 * Show a short-lived message in #toasts.
 * @param {string} text
 * @param {{kind?: string, href?: string, ms?: number}} [options] `href`: a path on this site the toast links to
 * @returns {HTMLElement|null}
 */
export function toast(text, { kind = "info", href = "", ms = TOAST_MS } = {}) {
  const container = document.getElementById("toasts");
  if (!container || !text) return null;
  const item = document.createElement("div");
  item.className = `toast toast-${kind}`;
  item.setAttribute("role", "status");
  const path = safePath(href);
  const body = document.createElement(path ? "a" : "span");
  if (path) body.href = path;
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
  setTimeout(() => item.remove(), ms);
  return item;
}

/**
 * Show the unread count in every badge on the page ([data-notification-badge]).
 * @param {number} unread
 */
export function setUnread(unread) {
  const count = Number.isInteger(unread) && unread > 0 ? unread : 0;
  for (const badge of document.querySelectorAll("[data-notification-badge]")) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    badge.closest("a")?.setAttribute("aria-label", count ? `Notifications, ${count} unread` : "Notifications");
  }
}

/**
 * Prepend a notification to #notifications when the page has that list (the notifications page).
 * @param {{id: number, title: string, body?: string, created_at?: string}} notification
 */
function listNotification(notification) {
  const list = document.getElementById("notifications");
  if (!list || list.dataset.firstPage === "false") return; // older pages keep their place
  list.querySelector("[data-empty]")?.remove();
  const item = document.createElement("li");
  item.className = "notification unread";
  item.dataset.notificationId = String(notification.id);
  const link = document.createElement("a");
  link.href = `/notifications/${notification.id}/open/`;
  link.textContent = notification.title || "";
  item.append(link);
  if (notification.body) {
    const body = document.createElement("p");
    body.className = "muted";
    body.textContent = notification.body;
    item.append(body);
  }
  if (notification.created_at) {
    const time = document.createElement("time");
    time.dateTime = notification.created_at;
    time.className = "muted";
    const when = new Date(notification.created_at);
    time.textContent = Number.isNaN(when.getTime()) ? "" : when.toLocaleString();
    item.append(time);
  }
  list.prepend(item);
}

/** Mark the listed notifications read on this page (another tab, or this one, read them). */
function listRead(ids, all) {
  for (const item of document.querySelectorAll("#notifications [data-notification-id]")) {
    if (all || ids.includes(Number(item.dataset.notificationId))) {
      if (item.closest("[data-filter='unread']")) item.remove(); // a list of unread ones: it leaves
      else {
        item.classList.remove("unread");
        item.querySelector("[data-mark-read]")?.remove();
      }
    }
  }
}

const TOAST_MS_BY_PRIORITY = { low: 5000, normal: TOAST_MS, high: 15000 };

/**
 * An event of the personal stream, on any page (app.js's socket, or a chat page's own socket):
 * a new notification shows a toast that links to it and updates the badge; a read one updates the
 * badge and the list, so every tab agrees.
 * @param {{event: string, data?: any}} frame
 */
export function personalEvent(frame) {
  const data = frame.data || {};
  if (frame.event === "notification.created" && data.notification) {
    const notification = data.notification;
    const item = toast(notification.title || "New notification", {
      href: `/notifications/${notification.id}/open/`,
      ms: TOAST_MS_BY_PRIORITY[notification.priority] || TOAST_MS,
    });
    item?.setAttribute("data-notification-toast", String(notification.id));
    setUnread(data.unread);
    listNotification(notification);
  } else if (frame.event === "notification.read") {
    setUnread(data.unread);
    listRead(Array.isArray(data.ids) ? data.ids : [], Boolean(data.all));
  }
}

function start() {
  const path = document.body?.dataset.personalSocket;
  if (!path) return;
  const socket = connect(path, {
    onEvent: personalEvent,
    onSnapshot(frame) {
      if (Number.isInteger(frame.data?.unread)) setUnread(frame.data.unread); // right after a reconnect or resync
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
