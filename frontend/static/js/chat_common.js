// What the two chat pages (a lounge room, a private coach thread) share: the page socket, the
// message log (empty state, scrolling, pending posts kept at the end), the pieces of a rendered
// message, the coach's streamed text (deltas, gaps, early deltas) and buttons that send a request.
// Server text reaches the page through textContent; the only innerHTML is a message's `html`,
// rendered and sanitised by the server (markdown-it-py + nh3).

import { RealtimeSocket } from "./realtime.js";
import { personalEvent, toast } from "./app.js";
import { clock, el, linkCitationRefs, renderCitations, StreamText, uuid } from "./stream_text.js";

const NEAR_BOTTOM_PX = 120;

// ------------------------------------------------------------------------------------ socket
/**
 * Open the page's socket. One socket per tab: it also follows the personal stream, so the
 * page-wide personal socket that app.js opened is closed and its notifications are shown from here.
 * @param {string} path
 * @param {{root: HTMLElement, name: string, stream: () => string, resend: () => void, lost: () => void,
 *          [handler: string]: any}} options `name` is the key on window.coachwire (for debugging and
 *          browser tests); `lost` runs when the server closed the socket for good
 * @returns {RealtimeSocket} not started yet
 */
export function openChatSocket(path, { root, name, stream, resend, lost, ...handlers }) {
  window.coachwire?.personalSocket?.stop();
  const socket = new RealtimeSocket(path, {
    ...handlers,
    onResumed: (frame) => {
      if (frame.stream === stream()) resend();
    },
    onState: (connection) => {
      root.dataset.conn = connection;
      if (connection === "offline" && socket.stopped) lost();
    },
  });
  window.coachwire = Object.assign(window.coachwire || {}, { [name]: socket });
  return socket;
}

/** An event of the personal stream: notifications, shown as on every page (app.js). */
export { personalEvent };

// ------------------------------------------------------------------------------------ the log
/**
 * The list of messages: its empty state, scrolling, and the pending posts kept at its end.
 * @param {HTMLElement} list
 * @param {{loaded: () => boolean, empty: string, loading: string}} texts
 */
export function messageLog(list, { loaded, empty, loading }) {
  const isNearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
  return {
    list,
    isNearBottom,
    scrollToBottom(force = false) {
      if (force || isNearBottom()) list.scrollTop = list.scrollHeight;
    },
    renderEmpty() {
      const hasItems = list.querySelector(".msg");
      let node = list.querySelector("[data-messages-empty]");
      if (hasItems) {
        node?.remove();
        return;
      }
      if (!node) {
        node = el("li", { class: "messages-empty muted", "data-messages-empty": true });
        list.append(node);
      }
      node.textContent = loaded() ? empty : loading;
    },
    /** Empty the list, let `fill` add the messages, then put the unsent posts back at the end. */
    rebuild(fill) {
      const pending = [...list.querySelectorAll("[data-pending]")];
      list.replaceChildren();
      fill();
      for (const item of pending) list.append(item);
    },
    /** Add a message before the pending posts. */
    insert(node) {
      list.insertBefore(node, list.querySelector("[data-pending]"));
    },
    /** The placeholder of our own post `clientMsgId`, or null. */
    pendingItem(clientMsgId) {
      return list.querySelector(`[data-pending="${CSS.escape(clientMsgId)}"]`);
    },
  };
}

// ------------------------------------------------------------------------------------ keyboard
const CONTROLS = "a[href], button, summary, input, select, textarea";

/**
 * One tab stop for a message list (the WAI-ARIA roving tabindex): the current message (the newest,
 * until the person moves) is the list's only stop, and only its own controls are tabbable, so Tab
 * passes the whole list in a few stops whatever it holds. Up/Down, Home/End move between messages;
 * Enter, the menu key or Shift+F10 opens the focused message's menu (`details.menu`). The list
 * watches its children, so messages added, replaced or removed keep the one stop.
 * @param {HTMLElement} list
 * @returns {{refresh: () => void, focus: () => void}}
 */
export function rovingMessages(list) {
  /** @type {string|null} the current message's key (its id, or a pending post's client_msg_id) */
  let key = null;
  let follow = true; // the current message is the newest, and stays so as messages arrive
  const keyOf = (item) => item.id || item.dataset.pending || "";
  const items = () => /** @type {HTMLElement[]} */ ([...list.children].filter((node) => node.classList.contains("msg")));

  function stop(item, on) {
    item.tabIndex = on ? 0 : -1;
    for (const control of item.querySelectorAll(CONTROLS)) {
      if (on) control.removeAttribute("tabindex");
      else control.setAttribute("tabindex", "-1");
    }
  }

  function refresh() {
    const all = items();
    let current = follow || key === null ? undefined : all.find((item) => keyOf(item) === key);
    if (!current) {
      current = all[all.length - 1];
      follow = true;
    }
    for (const item of all) stop(item, item === current);
    key = current ? keyOf(current) : null;
    list.tabIndex = current ? -1 : 0; // an empty list is still one stop, to read its empty state
  }

  function current() {
    return items().find((item) => item.tabIndex === 0) || null;
  }

  function moveTo(item) {
    if (!item) return;
    const all = items();
    key = keyOf(item);
    follow = item === all[all.length - 1];
    refresh();
    item.focus();
  }

  list.addEventListener("focusin", (event) => {
    const item = /** @type {HTMLElement|null} */ (event.target instanceof Element ? event.target.closest(".msg") : null);
    if (!item || item.parentElement !== list || item.tabIndex === 0) return;
    const all = items();
    key = keyOf(item);
    follow = item === all[all.length - 1];
    refresh();
  });

  list.addEventListener("keydown", (event) => {
    const item = event.target;
    if (!(item instanceof HTMLElement) || item.parentElement !== list || !item.classList.contains("msg")) return;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const all = items();
    const at = all.indexOf(item);
    const menuKey = event.key === "ContextMenu" || (event.key === "F10" && event.shiftKey);
    if (event.shiftKey && !menuKey) return;
    if (event.key === "ArrowDown") moveTo(all[at + 1]);
    else if (event.key === "ArrowUp") moveTo(all[at - 1]);
    else if (event.key === "Home") moveTo(all[0]);
    else if (event.key === "End") moveTo(all[all.length - 1]);
    else if (event.key === "Enter" || menuKey) {
      const menu = item.querySelector("details.menu");
      if (!(menu instanceof HTMLDetailsElement)) return;
      menu.open = true;
      /** @type {HTMLElement|null} */ (menu.querySelector(".menu-items button") || menu.querySelector("summary"))?.focus();
    } else return;
    event.preventDefault();
  });

  new MutationObserver(refresh).observe(list, { childList: true });
  refresh();
  return {
    refresh,
    /** Focus the current message (or the list, when it is empty). */
    focus() {
      (current() || list).focus();
    },
  };
}

// ------------------------------------------------------------------------------------ messages
/** @param {string} iso */
export const timeStamp = (iso) => el("time", { datetime: iso, title: new Date(iso).toLocaleString(), text: clock(iso) });

/**
 * A message's body: the live text while streaming, the server's sanitised HTML once it has it,
 * else the plain text.
 * @param {{status?: string, html?: string, body?: string}} m
 * @param {StreamText} [live]
 */
export function messageBody(m, live) {
  const body = el("div", { class: "msg-body", "data-body": true, tabindex: "-1" });
  if (m.status === "streaming") {
    body.classList.add("streaming");
    body.setAttribute("aria-busy", "true");
    body.textContent = live ? live.text : "";
  } else if (m.html) {
    body.innerHTML = m.html; // sanitised on the server (markdown-it-py + nh3): the one place HTML is assigned
  } else {
    body.textContent = m.body || "";
  }
  return body;
}

/**
 * The sources of a finished coach reply, with the "[n]" in its body linked to them; null while
 * streaming or without citations.
 * @param {{id: number, status?: string, citations?: any[]}} m
 * @param {HTMLElement} body
 */
export function coachCitations(m, body) {
  if (m.status === "streaming") return null;
  const prefix = `msg-${m.id}`;
  const citations = renderCitations(m.citations, prefix);
  if (citations) linkCitationRefs(body, m.citations, prefix);
  return citations;
}

/**
 * The line under a reply that was stopped or interrupted (with `anyError`, also under one that
 * carries an error otherwise), or null.
 * @param {{status?: string, error?: {message?: string}}} m
 */
export function statusNote(m, { anyError = false } = {}) {
  if (m.status === "stopped" || m.status === "interrupted") {
    const note = m.status === "stopped" ? "Stopped before the end." : "Interrupted";
    const detail = m.error?.message ? `: ${m.error.message}` : m.status === "interrupted" ? "." : "";
    return el("p", { class: `msg-state msg-state-${m.status}`, "data-msg-state": true, text: note + detail });
  }
  if (anyError && m.error?.message) return el("p", { class: "msg-state", "data-msg-state": true, text: m.error.message });
  return null;
}

/**
 * Keep a trail of visible states on the element (for people debugging, and for browser tests).
 * @param {{data: {status: string}, live: StreamText, history: string[]}} entry
 * @param {HTMLElement|null|undefined} node
 */
export function record(entry, node) {
  const mark = `${entry.data.status}:${entry.live.length}`;
  if (entry.history[entry.history.length - 1] !== mark) entry.history.push(mark);
  if (node) node.dataset.history = entry.history.join(" ");
}

// ------------------------------------------------------------------------------------ the coach
/**
 * The coach's streamed replies: deltas by code-point offset, deltas that come before their
 * message, and `coach.text` requests when a gap shows that deltas were lost.
 * Entries are `{data, live: StreamText, history}`.
 */
export class CoachStreams {
  /**
   * @param {{socket: RealtimeSocket, log: ReturnType<typeof messageLog>, find: (id: number) => any,
   *          nodeOf: (entry: any) => HTMLElement|null|undefined}} options `nodeOf` is the element
   *          showing the entry's text, or nothing when it is not shown
   */
  constructor({ socket, log, find, nodeOf }) {
    this.socket = socket;
    this.log = log;
    this.find = find;
    this.nodeOf = nodeOf;
    /** @type {Map<number, any[]>} deltas that arrived before their message */
    this.early = new Map();
    /** @type {Set<number>} coach.text requests in flight */
    this.requested = new Set();
  }

  /** A fresh snapshot: forget what was waiting. */
  clear() {
    this.early.clear();
    this.requested.clear();
  }

  /** @param {{id: number, offset: number, text: string}} delta */
  delta(delta) {
    const entry = this.find(delta.id);
    if (!entry) {
      const early = this.early.get(delta.id) || [];
      early.push(delta);
      this.early.set(delta.id, early);
      return;
    }
    if (entry.data.status !== "streaming") return;
    const outcome = entry.live.apply(delta);
    if (outcome === "gap") this.request(delta.id); // a delta lost, or we joined between two
    if (outcome === "applied") this.show(entry);
  }

  /** The message `id` is now known: apply the deltas that came before it. */
  arrived(id) {
    const early = this.early.get(id);
    if (!early) return;
    this.early.delete(id);
    for (const delta of early.sort((a, b) => a.offset - b.offset)) this.delta(delta);
  }

  /** A `coach.text` answer: the whole text so far. */
  text(frame) {
    this.requested.delete(frame.id);
    const entry = this.find(frame.id);
    if (!entry || entry.data.status !== "streaming") return;
    if (entry.live.replace(frame.text || "")) this.show(entry);
  }

  /** A completed message: its final text replaces the live one. */
  complete(entry, message) {
    entry.live = new StreamText(message.body || "");
    this.requested.delete(message.id);
  }

  /** Ask the server for the text so far (once at a time per message). */
  request(id) {
    if (this.requested.has(id)) return;
    this.requested.add(id);
    this.socket.send({ type: "coach.text", message_id: id, ref: `text-${id}` });
  }

  show(entry) {
    const node = this.nodeOf(entry);
    if (!node) return;
    const near = this.log.isNearBottom();
    const body = node.querySelector("[data-body]");
    if (body) body.textContent = entry.live.text;
    record(entry, node);
    if (near) this.log.scrollToBottom(true);
  }
}

// ------------------------------------------------------------------------------------ requests
/**
 * Send a request from a button: the button is disabled and says `busy` until the answer; when
 * the socket is down it comes back at once, with a toast. The ref is kept in `refs` as
 * `{kind, button, label}` for the ack or error that answers it.
 * @param {{socket: RealtimeSocket, refs: Map<string, any>, ref: string, frame: Object,
 *          button: HTMLButtonElement, kind: string, label: string, busy: string}} options
 */
export function buttonRequest({ socket, refs, ref, frame, button, kind, label, busy }) {
  refs.set(ref, { kind, button, label });
  button.disabled = true;
  button.textContent = busy;
  if (!socket.send(frame)) {
    refs.delete(ref);
    button.disabled = false;
    button.textContent = label;
    toast("Not connected; try again in a moment.", { kind: "warning" });
  }
}

/**
 * The Stop button of a streaming reply, and what it sends.
 * @param {{socket: RealtimeSocket, refs: Map<string, any>, id: number, ariaLabel: string, attrs?: Object}} options
 */
export function stopButton({ socket, refs, id, ariaLabel, attrs = {} }) {
  return el("button", {
    type: "button",
    class: "secondary small",
    "data-stop": true,
    ...attrs,
    text: "Stop",
    "aria-label": ariaLabel,
    onclick: (event) => {
      const ref = `stop-${uuid()}`;
      const frame = { type: "coach.stop", message_id: id, ref };
      buttonRequest({ socket, refs, ref, frame, button: event.currentTarget, kind: "stop", label: "Stop", busy: "Stopping…" });
    },
  });
}
