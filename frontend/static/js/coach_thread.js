// A private coach thread: history from the socket's snapshot, the composer, the coach's streamed
// replies (plain text while streaming, the server's sanitised HTML once complete), Stop,
// Regenerate, a pager through the versions of an answer, citations, and renaming the thread.
// Protocol: docs/realtime-protocol.md (coach threads). Server text reaches the page through
// textContent; the only innerHTML is a message's `html`, rendered and sanitised by the server.

import { toast } from "./app.js";
import { el, StreamText, uuid } from "./stream_text.js";
import { buttonRequest, CoachStreams, coachCitations, messageBody, messageLog, openChatSocket, personalEvent, record, statusNote, stopButton, timeStamp } from "./chat_common.js";
import { createComposer } from "./composer.js";

const root = document.querySelector("[data-coach-thread]");
const configNode = document.getElementById("thread-config");

if (root && configNode) start(JSON.parse(configNode.textContent));

/** @param {any} config */
function start(config) {
  const me = config.user;
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
    /** @type {Map<string, {kind: string, [key: string]: any}>} requests awaiting an answer, by ref */
    refs: new Map(),
  };

  const socket = openChatSocket(config.socket, {
    root,
    name: "coachSocket",
    stream: () => state.stream,
    resend: () => composer.resend(),
    lost: () => {
      if (state.loaded === false) setGone("This conversation is not available. It may have been deleted.");
    },
    onSnapshot: (frame) => onSnapshot(frame),
    onEvent: (frame) => onEvent(frame),
    onError: (frame) => onErrorFrame(frame),
    onMessage: (frame) => onFrame(frame),
  });
  const log = messageLog(ui.log, {
    loaded: () => state.loaded,
    empty: "No messages yet. Ask your coach anything: it answers from your notes.",
    loading: "Loading the conversation…",
  });
  const composer = createComposer({ ui, log, socket, maxBytes: config.max_body_bytes, author: me.name || "You" });
  const streams = new CoachStreams({
    socket,
    log,
    find: (id) => state.messages.get(id),
    // Only the version on show has an element.
    nodeOf: (entry) => (state.shown.get(slotKey(entry.data)) === entry.data.id ? state.nodes.get(slotKey(entry.data)) : null),
  });

  // ---------------------------------------------------------------------------------- frames
  function onSnapshot(frame) {
    state.stream = frame.stream;
    const data = frame.data || {};
    if (data.thread) applyTitle(data.thread.title);
    state.messages.clear();
    state.order = [];
    state.nodes.clear();
    streams.clear();
    // Unsent messages stay, at the end.
    log.rebuild(() => {
      for (const message of data.messages || []) remember(message);
      for (const id of state.order) place(state.messages.get(id).data);
    });
    state.loaded = true;
    root.dataset.state = "ready";
    for (const entry of state.messages.values()) if (entry.data.status === "streaming" && !entry.live.length) streams.request(entry.data.id);
    log.renderEmpty();
    refreshTools();
    log.scrollToBottom(true);
    composer.resend();
  }

  function onEvent(frame) {
    if (frame.stream && state.stream && frame.stream !== state.stream) return personalEvent(frame);
    const data = frame.data || {};
    switch (frame.event) {
      case "message.created":
        return onCreated(data.message);
      case "message.completed":
        return onCompleted(data.message);
      case "coach.delta":
        return streams.delta(data);
      case "thread.renamed":
        return applyTitle(data.title);
    }
  }

  function onFrame(frame) {
    if (frame.type === "ack") return onAck(frame);
    if (frame.type === "coach.text") return streams.text(frame);
  }

  function onAck(frame) {
    const ref = frame.ref;
    const posted = [ref, frame.client_msg_id].find((key) => key && composer.outbox.has(key));
    if (posted) {
      const known = state.messages.has(frame.message_id);
      const item = composer.acknowledge(posted, known);
      if (!known) item.el.dataset.messageId = String(frame.message_id);
      log.renderEmpty();
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
    if (composer.restore(ref, retry ? `${text} Try again in ${Math.ceil(retry)} s.` : text)) return;
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
    else composer.showError(text);
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
      log.insert(fresh);
    }
    state.nodes.set(key, fresh);
  }

  function onCreated(message) {
    if (!message) return;
    const near = log.isNearBottom();
    const isNew = !state.messages.has(message.id);
    remember(message);
    if (message.role === "user" && message.client_msg_id) {
      const placeholder = log.pendingItem(message.client_msg_id);
      if (placeholder) {
        composer.outbox.delete(message.client_msg_id);
        const node = renderUser(state.messages.get(message.id));
        placeholder.replaceWith(node);
        state.nodes.set(slotKey(message), node);
      } else place(message);
    } else {
      if (message.role === "coach" && isNew) state.shown.set(slotKey(message), message.id); // a new version: show it
      place(message);
    }
    streams.arrived(message.id);
    log.renderEmpty();
    refreshTools();
    if (near || message.role === "user") log.scrollToBottom(true);
  }

  function onCompleted(message) {
    if (!message) return;
    const near = log.isNearBottom();
    const entry = remember(message);
    streams.complete(entry, message);
    place(entry.data);
    refreshTools();
    if (near) log.scrollToBottom(true);
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
        timeStamp(m.created_at),
      ),
      // The person's own words; the server's HTML when it has rendered them.
      messageBody(m),
    );
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
      timeStamp(m.created_at),
      versions.length > 1 ? pager(key, versions, index) : null,
    );
    const body = messageBody(m, entry.live);
    const citations = coachCitations(m, body);
    const node = el(
      "li",
      {
        class: "msg msg-coach",
        id: `msg-${m.id}`,
        dataset: { messageId: String(m.id), status: m.status, role: "coach", version: String(m.version || 1), versions: String(total), slot: key },
        "aria-label": total > 1 ? `Coach answer, version ${index + 1} of ${total}` : null,
      },
      head,
      body,
    );
    const note = statusNote(m, { anyError: true });
    if (note) node.append(note);
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
      tools.append(stopButton({ socket, refs: state.refs, id: m.id, ariaLabel: "Stop the coach's answer", attrs: { dataset: { action: "stop" } } }));
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
  function regenerate(button) {
    const requestId = uuid();
    const frame = { type: "coach.regenerate", request_id: requestId, ref: requestId };
    buttonRequest({ socket, refs: state.refs, ref: requestId, frame, button, kind: "regenerate", label: "Regenerate", busy: "Regenerating…" });
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

  // ---------------------------------------------------------------------------------- go
  composer.updateBytes();
  socket.start();
}
