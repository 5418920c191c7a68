// A private coach thread: history from the socket's snapshot, the composer, the coach's streamed
// replies (plain text while streaming, the server's sanitised HTML once complete), Stop,
// Regenerate, a pager through the versions of an answer, citations, and renaming the thread.
// Protocol: docs/realtime-protocol.md (coach threads). Server text reaches the page through
// textContent; the only innerHTML is a message's `html`, rendered and sanitised by the server.

import { RealtimeSocket } from "./realtime.js";
import { toast } from "./app.js";
import { clock, el, linkCitationRefs, renderCitations, StreamText, utf8Bytes, uuid } from "./stream_text.js";

const NEAR_BOTTOM_PX = 120;

const root = document.querySelector("[data-coach-thread]");
const configNode = document.getElementById("thread-config");

if (root && configNode) start(JSON.parse(configNode.textContent));

/** @param {any} config */
function start(config) {
  const me = config.user;
  const maxBytes = config.max_body_bytes;
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    log: $("[data-messages]"),
    title: $("[data-thread-title]"),
    rename: $("[data-rename]"),
    renameForm: $("[data-rename-form]"),
    renameInput: $("[data-rename-input]"),
    renameError: $("[data-rename-error]"),
    gone: $("[data-thread-gone]"),
    composer: $("[data-composer]"),
    body: $("[data-composer-body]"),
    bytes: $("[data-composer-bytes]"),
    error: $("[data-composer-error]"),
    send: $("[data-send]"),
  };

  const state = {
    stream: "",
    loaded: false,
    /** @type {Map<number, {data: any, live: StreamText, history: string[]}>} */
    messages: new Map(),
    /** @type {number[]} message ids, oldest first */
    order: [],
    /** @type {Map<string, number>} the version shown per answer slot (parent id), by message id */
    shown: new Map(),
    /** @type {Map<string, HTMLElement>} one element per user message and per answer slot */
    nodes: new Map(),
    /** @type {Map<string, {body: string, el: HTMLElement}>} posts awaiting their ack, by client_msg_id */
    outbox: new Map(),
    /** @type {Map<string, {kind: string, [key: string]: any}>} requests awaiting an answer, by ref */
    refs: new Map(),
    /** @type {Map<number, any[]>} deltas that arrived before their message */
    earlyDeltas: new Map(),
    /** @type {Set<number>} coach.text requests in flight */
    textRequested: new Set(),
  };

  // One socket per tab: this socket also follows the personal stream (notifications).
  window.coachwire?.personalSocket?.stop();

  const socket = new RealtimeSocket(config.socket, {
    onSnapshot: (frame) => onSnapshot(frame),
    onEvent: (frame) => onEvent(frame),
    onResumed: (frame) => {
      if (frame.stream === state.stream) resendOutbox();
    },
    onError: (frame) => onErrorFrame(frame),
    onMessage: (frame) => onFrame(frame),
    onState: (connection) => {
      root.dataset.conn = connection;
      if (connection === "offline" && socket.stopped && state.loaded === false) {
        setGone("This conversation is not available. It may have been deleted.");
      }
    },
  });
  window.coachwire = Object.assign(window.coachwire || {}, { coachSocket: socket });

  // ---------------------------------------------------------------------------------- frames
  function onSnapshot(frame) {
    state.stream = frame.stream;
    const data = frame.data || {};
    if (data.thread) applyTitle(data.thread.title);
    state.messages.clear();
    state.order = [];
    state.nodes.clear();
    state.earlyDeltas.clear();
    state.textRequested.clear();
    const pending = [...ui.log.querySelectorAll("[data-pending]")];
    ui.log.replaceChildren();
    for (const message of data.messages || []) remember(message);
    for (const id of state.order) place(state.messages.get(id).data);
    for (const item of pending) ui.log.append(item); // unsent messages stay, at the end
    state.loaded = true;
    root.dataset.state = "ready";
    for (const entry of state.messages.values()) if (entry.data.status === "streaming" && !entry.live.length) requestText(entry.data.id);
    renderEmpty();
    refreshTools();
    scrollToBottom(true);
    resendOutbox();
  }

  function onEvent(frame) {
    if (frame.stream && state.stream && frame.stream !== state.stream) {
      if (frame.event === "notification") {
        const data = frame.data || {};
        toast(data.text || data.title || "New notification");
      }
      return;
    }
    const data = frame.data || {};
    switch (frame.event) {
      case "message.created":
        return onCreated(data.message);
      case "message.completed":
        return onCompleted(data.message);
      case "coach.delta":
        return applyDelta(data);
      case "thread.renamed":
        return applyTitle(data.title);
    }
  }

  function onFrame(frame) {
    if (frame.type === "ack") return onAck(frame);
    if (frame.type === "coach.text") return applyText(frame);
  }

  function onAck(frame) {
    const ref = frame.ref;
    const posted = [ref, frame.client_msg_id].find((key) => key && state.outbox.has(key));
    if (posted) {
      const item = state.outbox.get(posted);
      state.outbox.delete(posted);
      if (state.messages.has(frame.message_id)) item.el.remove();
      else {
        item.el.dataset.pendingState = "sent";
        item.el.dataset.messageId = String(frame.message_id);
        item.el.querySelector("[data-pending-note]").textContent = "Sent";
      }
      renderEmpty();
      return;
    }
    const pending = ref ? state.refs.get(ref) : undefined;
    if (ref) state.refs.delete(ref);
    if (pending?.kind === "rename") {
      ui.rename.open = false;
      ui.renameError.textContent = "";
      applyTitle(pending.title);
    }
  }

  function onErrorFrame(frame) {
    const ref = frame.ref;
    const retry = typeof frame.retry_after === "number" ? frame.retry_after : null;
    const fieldText = frame.fields ? Object.values(frame.fields).flat().join(" ") : "";
    const text = [frame.message, fieldText].filter(Boolean).join(" ") || "That did not work.";
    if (ref && state.outbox.has(ref)) {
      // Nothing the person wrote is lost: the text goes back into the composer.
      const item = state.outbox.get(ref);
      state.outbox.delete(ref);
      item.el.remove();
      const current = ui.body.value;
      ui.body.value = current.trim() ? `${item.body}\n\n${current}` : item.body;
      updateBytes();
      showError(retry ? `${text} Try again in ${Math.ceil(retry)} s.` : text);
      renderEmpty();
      return;
    }
    const pending = ref ? state.refs.get(ref) : undefined;
    if (ref) state.refs.delete(ref);
    if (pending?.kind === "rename") {
      ui.rename.open = true;
      ui.renameError.textContent = text;
      ui.renameInput.focus();
      return;
    }
    if (pending?.button) {
      pending.button.disabled = false;
      pending.button.textContent = pending.label;
    }
    if (pending?.kind === "regenerate" || pending?.kind === "stop") toast(text, { kind: "warning" });
    else showError(text);
  }

  // ---------------------------------------------------------------------------------- messages
  /** Keep a message's data; returns its entry. */
  function remember(message) {
    let entry = state.messages.get(message.id);
    if (entry) {
      entry.data = { ...entry.data, ...message };
      if (message.status !== "streaming" || !entry.live.length) entry.live = new StreamText(message.body || "");
      else entry.live.replace(message.body || "");
      return entry;
    }
    entry = { data: message, live: new StreamText(message.body || ""), history: [] };
    state.messages.set(message.id, entry);
    state.order.push(message.id);
    if (message.role === "coach") {
      const key = slotKey(message);
      const shownId = state.shown.get(key);
      const shown = shownId ? state.messages.get(shownId) : null;
      // The newest answer is shown unless the person paged to an older one and it is not the newest.
      if (!shown || message.current || (message.version || 1) >= (shown.data.version || 1)) state.shown.set(key, message.id);
    }
    return entry;
  }

  /** Answers to one question share a slot (their versions); anything else is its own slot. */
  const slotKey = (m) => (m.role === "coach" ? `a-${m.parent_id ?? `own-${m.id}`}` : `u-${m.id}`);

  /** All versions of the answer slot `key`, oldest version first. */
  function versionsOf(key) {
    return state.order
      .map((id) => state.messages.get(id))
      .filter((entry) => entry.data.role === "coach" && slotKey(entry.data) === key)
      .sort((a, b) => (a.data.version || 1) - (b.data.version || 1) || a.data.id - b.data.id);
  }

  /** Put (or refresh) the element of a message's slot in the log. */
  function place(message) {
    const key = slotKey(message);
    const fresh = message.role === "coach" ? renderAnswer(key) : renderUser(state.messages.get(message.id));
    if (!fresh) return;
    const existing = state.nodes.get(key);
    if (existing?.isConnected) {
      const focusAction = existing.contains(document.activeElement) ? document.activeElement.dataset.action || "body" : "";
      existing.replaceWith(fresh);
      if (focusAction) (fresh.querySelector(`[data-action="${focusAction}"]:not(:disabled)`) || fresh.querySelector("[data-body]"))?.focus();
    } else {
      ui.log.insertBefore(fresh, ui.log.querySelector("[data-pending]"));
    }
    state.nodes.set(key, fresh);
  }

  function onCreated(message) {
    if (!message) return;
    const near = isNearBottom();
    const isNew = !state.messages.has(message.id);
    remember(message);
    if (message.role === "user" && message.client_msg_id) {
      const placeholder = ui.log.querySelector(`[data-pending="${CSS.escape(message.client_msg_id)}"]`);
      if (placeholder) {
        state.outbox.delete(message.client_msg_id);
        const node = renderUser(state.messages.get(message.id));
        placeholder.replaceWith(node);
        state.nodes.set(slotKey(message), node);
      } else place(message);
    } else {
      if (message.role === "coach" && isNew) state.shown.set(slotKey(message), message.id); // a new version: show it
      place(message);
    }
    const early = state.earlyDeltas.get(message.id);
    if (early) {
      state.earlyDeltas.delete(message.id);
      for (const delta of early.sort((a, b) => a.offset - b.offset)) applyDelta(delta);
    }
    renderEmpty();
    refreshTools();
    if (near || message.role === "user") scrollToBottom(true);
  }

  function onCompleted(message) {
    if (!message) return;
    const near = isNearBottom();
    const entry = remember(message);
    entry.live = new StreamText(message.body || "");
    state.textRequested.delete(message.id);
    place(entry.data);
    refreshTools();
    if (near) scrollToBottom(true);
  }

  /** Keep a trail of visible states on the element (for people debugging, and for browser tests). */
  function record(entry, node) {
    const mark = `${entry.data.status}:${entry.live.length}`;
    if (entry.history[entry.history.length - 1] !== mark) entry.history.push(mark);
    if (node) node.dataset.history = entry.history.join(" ");
  }

  function renderUser(entry) {
    const m = entry.data;
    return el(
      "li",
      { class: "msg msg-user msg-mine", id: `msg-${m.id}`, dataset: { messageId: String(m.id), role: "user" } },
      el(
        "p",
        { class: "msg-head" },
        el("span", { class: "msg-author", text: me.name || "You" }),
        el("span", { class: "badge", text: "you" }),
        el("time", { datetime: m.created_at, title: new Date(m.created_at).toLocaleString(), text: clock(m.created_at) }),
      ),
      // The person's own words; the server's HTML when it has rendered them.
      m.html ? htmlBody(m.html) : el("div", { class: "msg-body", "data-body": true, tabindex: "-1", text: m.body || "" }),
    );
  }

  function htmlBody(html) {
    const body = el("div", { class: "msg-body", "data-body": true, tabindex: "-1" });
    body.innerHTML = html; // sanitised on the server (markdown-it-py + nh3): the one place HTML is assigned
    return body;
  }

  function renderAnswer(key) {
    const versions = versionsOf(key);
    if (!versions.length) return null;
    const shownId = state.shown.get(key);
    const index = Math.max(0, versions.findIndex((entry) => entry.data.id === shownId));
    const entry = versions[index];
    const m = entry.data;
    const streaming = m.status === "streaming";
    const total = Math.max(versions.length, m.versions || 0);
    const head = el(
      "p",
      { class: "msg-head" },
      el("span", { class: "msg-author", text: "Coach" }),
      m.provider_label ? el("span", { class: "badge msg-provider", "data-provider": true, text: m.provider_label }) : null,
      streaming ? el("span", { class: "msg-answering", "data-answering": true, text: "answering…" }) : null,
      el("time", { datetime: m.created_at, title: new Date(m.created_at).toLocaleString(), text: clock(m.created_at) }),
      versions.length > 1 ? pager(key, versions, index) : null,
    );
    let body;
    if (streaming) {
      body = el("div", { class: "msg-body streaming", "data-body": true, tabindex: "-1", "aria-busy": "true" });
      body.textContent = entry.live.text;
    } else if (m.html) {
      body = htmlBody(m.html);
    } else {
      body = el("div", { class: "msg-body", "data-body": true, tabindex: "-1", text: m.body || "" });
    }
    const prefix = `msg-${m.id}`;
    const citations = streaming ? null : renderCitations(m.citations, prefix);
    if (citations) linkCitationRefs(body, m.citations, prefix);
    const node = el(
      "li",
      {
        class: "msg msg-coach",
        id: prefix,
        dataset: { messageId: String(m.id), status: m.status, role: "coach", version: String(m.version || 1), versions: String(total), slot: key },
        "aria-label": total > 1 ? `Coach answer, version ${index + 1} of ${total}` : null,
      },
      head,
      body,
    );
    if (m.status === "stopped" || m.status === "interrupted") {
      const note = m.status === "stopped" ? "Stopped before the end." : "Interrupted";
      const detail = m.error?.message ? `: ${m.error.message}` : m.status === "interrupted" ? "." : "";
      node.append(el("p", { class: `msg-state msg-state-${m.status}`, "data-msg-state": true, text: note + detail }));
    } else if (m.error?.message) {
      node.append(el("p", { class: "msg-state", "data-msg-state": true, text: m.error.message }));
    }
    if (citations) node.append(citations);
    node.append(el("div", { class: "msg-actions", "data-tools": true }));
    record(entry, node);
    fillTools(node, entry, key);
    return node;
  }

  function pager(key, versions, index) {
    const go = (step) => {
      const next = versions[index + step];
      if (!next) return;
      state.shown.set(key, next.data.id);
      place(next.data);
      refreshTools();
    };
    return el(
      "span",
      { class: "msg-pager", role: "group", "aria-label": "Answer versions" },
      el("button", { type: "button", class: "link", dataset: { action: "prev-version" }, "aria-label": "Previous version", disabled: index === 0, text: "‹", onclick: () => go(-1) }),
      el("span", { "data-version-label": true, text: `${index + 1}/${versions.length}` }),
      el("button", { type: "button", class: "link", dataset: { action: "next-version" }, "aria-label": "Next version", disabled: index === versions.length - 1, text: "›", onclick: () => go(1) }),
    );
  }

  /** The slot of the thread's last answer (Regenerate lives there only). */
  function lastAnswerKey() {
    for (let i = state.order.length - 1; i >= 0; i--) {
      const data = state.messages.get(state.order[i]).data;
      if (data.role === "coach") return slotKey(data);
      if (data.role === "user") return null; // a question without an answer yet
    }
    return null;
  }

  function fillTools(node, entry, key) {
    const tools = node.querySelector("[data-tools]");
    if (!tools) return;
    tools.replaceChildren();
    const m = entry.data;
    if (m.status === "streaming") {
      tools.append(el("button", { type: "button", class: "secondary small", "data-stop": true, dataset: { action: "stop" }, text: "Stop", "aria-label": "Stop the coach's answer", onclick: (event) => stopReply(m.id, event.currentTarget) }));
    } else if (key === lastAnswerKey() && !versionsOf(key).some((v) => v.data.status === "streaming")) {
      tools.append(el("button", { type: "button", class: "secondary small", "data-regenerate": true, dataset: { action: "regenerate" }, text: "Regenerate", "aria-label": "Regenerate the last answer", onclick: (event) => regenerate(event.currentTarget) }));
    }
  }

  /** Regenerate moves to the newest answer when the thread grows. */
  function refreshTools() {
    for (const [key, node] of state.nodes) {
      if (!key.startsWith("a-") || !node.isConnected) continue;
      const entry = state.messages.get(state.shown.get(key));
      if (entry) fillTools(node, entry, key);
    }
  }

  // ---------------------------------------------------------------------------------- the coach
  function applyDelta(delta) {
    const entry = state.messages.get(delta.id);
    if (!entry) {
      const early = state.earlyDeltas.get(delta.id) || [];
      early.push(delta);
      state.earlyDeltas.set(delta.id, early);
      return;
    }
    if (entry.data.status !== "streaming") return;
    const outcome = entry.live.apply(delta);
    if (outcome === "gap") requestText(delta.id); // a delta lost, or we joined between two
    if (outcome === "applied") showStreamingText(entry);
  }

  function applyText(frame) {
    state.textRequested.delete(frame.id);
    const entry = state.messages.get(frame.id);
    if (!entry || entry.data.status !== "streaming") return;
    if (entry.live.replace(frame.text || "")) showStreamingText(entry);
  }

  function showStreamingText(entry) {
    const key = slotKey(entry.data);
    const node = state.nodes.get(key);
    if (!node || state.shown.get(key) !== entry.data.id) return;
    const near = isNearBottom();
    const body = node.querySelector("[data-body]");
    if (body) body.textContent = entry.live.text;
    record(entry, node);
    if (near) scrollToBottom(true);
  }

  function requestText(id) {
    if (state.textRequested.has(id)) return;
    state.textRequested.add(id);
    socket.send({ type: "coach.text", message_id: id, ref: `text-${id}` });
  }

  function stopReply(id, button) {
    const ref = `stop-${uuid()}`;
    state.refs.set(ref, { kind: "stop", button, label: "Stop" });
    button.disabled = true;
    button.textContent = "Stopping…";
    if (!socket.send({ type: "coach.stop", message_id: id, ref })) {
      state.refs.delete(ref);
      button.disabled = false;
      button.textContent = "Stop";
      toast("Not connected; try again in a moment.", { kind: "warning" });
    }
  }

  function regenerate(button) {
    const requestId = uuid();
    state.refs.set(requestId, { kind: "regenerate", button, label: "Regenerate" });
    button.disabled = true;
    button.textContent = "Regenerating…";
    if (!socket.send({ type: "coach.regenerate", request_id: requestId, ref: requestId })) {
      state.refs.delete(requestId);
      button.disabled = false;
      button.textContent = "Regenerate";
      toast("Not connected; try again in a moment.", { kind: "warning" });
    }
  }

  // ---------------------------------------------------------------------------------- the title
  function applyTitle(title) {
    const text = title || "Untitled conversation";
    ui.title.textContent = text;
    document.title = `${text} · Coachwire`;
    if (document.activeElement !== ui.renameInput) ui.renameInput.value = title || "";
  }

  ui.renameForm.addEventListener("submit", (event) => {
    const title = ui.renameInput.value.trim();
    if (!title) {
      event.preventDefault();
      ui.renameError.textContent = "Give the conversation a title.";
      ui.renameInput.focus();
      return;
    }
    const ref = `rename-${uuid()}`;
    state.refs.set(ref, { kind: "rename", title });
    // Without a live socket the form posts as a plain HTML form instead.
    if (socket.send({ type: "thread.rename", title, ref })) event.preventDefault();
    else state.refs.delete(ref);
  });
  ui.rename.addEventListener("toggle", () => {
    if (ui.rename.open) ui.renameInput.select();
  });
  ui.rename.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.rename.open) {
      ui.rename.open = false;
      ui.rename.querySelector("summary").focus();
    }
  });

  function setGone(text) {
    ui.gone.textContent = text;
    ui.gone.hidden = false;
    ui.body.disabled = true;
    ui.send.disabled = true;
  }

  // ---------------------------------------------------------------------------------- composer
  function updateBytes() {
    const size = utf8Bytes(ui.body.value.trim());
    const over = size > maxBytes;
    ui.bytes.textContent = `${size} / ${maxBytes} bytes${over ? " (too long)" : ""}`;
    ui.bytes.classList.toggle("over", over);
    ui.body.setAttribute("aria-invalid", String(over));
  }

  function showError(text) {
    ui.error.textContent = text;
  }

  function submit() {
    const text = ui.body.value.trim();
    if (!text) {
      showError("Write something first.");
      ui.body.focus();
      return;
    }
    const size = utf8Bytes(text);
    if (size > maxBytes) {
      showError(`Too long to send: a message is at most ${maxBytes} bytes (UTF-8) and this one is ${size}. Shorten it and try again; your text is still here.`);
      ui.body.focus();
      return;
    }
    showError("");
    const clientMsgId = uuid();
    const item = el(
      "li",
      { class: "msg msg-user msg-mine msg-pending", dataset: { pending: clientMsgId, pendingState: "sending" } },
      el("p", { class: "msg-head" }, el("span", { class: "msg-author", text: me.name || "You" }), el("span", { class: "badge", text: "you" }), el("span", { class: "muted", "data-pending-note": true, text: "Sending…" })),
      el("div", { class: "msg-body", text }),
    );
    ui.log.append(item);
    renderEmpty();
    scrollToBottom(true);
    state.outbox.set(clientMsgId, { body: text, el: item });
    ui.body.value = "";
    updateBytes();
    if (!sendPost(clientMsgId)) {
      item.dataset.pendingState = "waiting";
      item.querySelector("[data-pending-note]").textContent = "Waiting for the connection…";
    }
  }

  function sendPost(clientMsgId) {
    const item = state.outbox.get(clientMsgId);
    if (!item) return false;
    return socket.send({ type: "message.post", client_msg_id: clientMsgId, body: item.body, ref: clientMsgId });
  }

  /** Unacknowledged posts go again after a reconnect: the client_msg_id makes a repeat harmless. */
  function resendOutbox() {
    for (const [clientMsgId, item] of state.outbox) {
      if (item.el.dataset.pendingState === "sent") continue;
      if (sendPost(clientMsgId)) {
        item.el.dataset.pendingState = "sending";
        item.el.querySelector("[data-pending-note]").textContent = "Sending…";
      }
    }
  }

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  ui.body.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    event.preventDefault();
    submit();
  });
  ui.body.addEventListener("input", () => {
    updateBytes();
    if (ui.error.textContent && utf8Bytes(ui.body.value.trim()) <= maxBytes) showError("");
  });

  // ---------------------------------------------------------------------------------- layout
  function renderEmpty() {
    const hasItems = ui.log.querySelector(".msg");
    let empty = ui.log.querySelector("[data-messages-empty]");
    if (hasItems) {
      empty?.remove();
      return;
    }
    if (!empty) {
      empty = el("li", { class: "messages-empty muted", "data-messages-empty": true });
      ui.log.append(empty);
    }
    empty.textContent = state.loaded ? "No messages yet. Ask your coach anything: it answers from your notes." : "Loading the conversation…";
  }

  function isNearBottom() {
    return ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom(force = false) {
    if (force || isNearBottom()) ui.log.scrollTop = ui.log.scrollHeight;
  }

  // ---------------------------------------------------------------------------------- go
  updateBytes();
  socket.start();
}
