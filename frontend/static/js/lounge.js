// The lounge room: history from the socket's snapshot, live events, the composer, the coach's
// streamed replies, typing, presence, and moderation. Protocol: docs/realtime-protocol.md and
// realtime/consumers/lounge.py. Server text reaches the page through textContent; the only
// innerHTML is a message's `html`, which the server renders and sanitises (markdown-it-py + nh3).

import { toast } from "./app.js";
import { clock, el, StreamText, utf8Bytes, uuid } from "./stream_text.js";
import { CoachStreams, coachCitations, messageBody, messageLog, openChatSocket, personalEvent, record, rovingMessages, statusNote, stopButton, timeStamp } from "./chat_common.js";
import { createComposer } from "./composer.js";
import { confirmAction } from "./confirm.js";

const TYPING_SEND_MS = 2000; // the server also drops typing beyond one per 2 s
const TYPING_SHOW_MS = 5000;
const PIN_EXCERPT = 140;
const MUTE_CHOICES = [5, 15, 60];
const ROLE_BADGE = { owner: "You own this lounge", moderator: "You are a moderator", member: "You are a member" };

// ------------------------------------------------------------------------------------ helpers
/** @param {number} seconds */
function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m}:${rest} min`;
}

// ------------------------------------------------------------------------------------ state
const root = document.querySelector("[data-lounge-room]");
const configNode = document.getElementById("lounge-config");

if (root && configNode) start(JSON.parse(configNode.textContent));

/** @param {any} config */
function start(config) {
  const me = config.me;
  const maxBytes = config.max_body_bytes;
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    log: $("[data-messages]"),
    typing: $("[data-typing]"),
    pinsSection: $("[data-pins-section]"),
    pins: $("[data-pins]"),
    presence: $("[data-presence]"),
    presenceCount: $("[data-presence-count]"),
    reports: $("[data-reports]"),
    reportsCount: $("[data-reports-count]"),
    members: $("[data-members]"),
    membersCount: $("[data-members-count]"),
    composer: $("[data-composer]"),
    body: $("[data-composer-body]"),
    bytes: $("[data-composer-bytes]"),
    status: $("[data-composer-status]"),
    reason: $("[data-composer-reason]"),
    announce: $("[data-composer-announce]"),
    error: $("[data-composer-error]"),
    send: $("[data-send]"),
    ask: $("[data-ask-coach]"),
    joinForm: $("[data-join-form]"),
    removed: $("[data-room-removed]"),
    locked: $("[data-room-locked]"),
    slow: $("[data-room-slow]"),
    slowSeconds: $("[data-room-slow-seconds]"),
    lockToggle: $("[data-toggle-lock]"),
    slowForm: $("[data-slow-form]"),
    modError: $("[data-mod-error]"),
    role: $("[data-room-role]"),
    leaveForm: $("[data-leave-form]"),
    ownerNote: $("[data-owner-note]"),
  };
  const dialog = document.querySelector("[data-dialog]");

  const state = {
    stream: "",
    rights: { ...config.rights },
    clockSkew: 0, // server time minus this browser's time, in ms
    removed: "",
    /** @type {Map<number, {data: any, el: HTMLElement, live: StreamText, history: string[]}>} */
    messages: new Map(),
    /** @type {Map<number, any>} */
    pins: new Map(),
    /** @type {Map<number, string>} */
    presence: new Map(),
    /** @type {Map<number, {name: string, until: number}>} */
    typing: new Map(),
    /** @type {Map<number, any>} */
    reports: new Map(),
    /** @type {Map<number, any>} */
    members: new Map((config.members || []).map((m) => [m.id, m])),
    /** @type {Map<string, {kind: string, [key: string]: any}>} requests awaiting an ack, by ref */
    refs: new Map(),
    lastTypingSent: 0,
    announced: "",
    countdown: 0,
    typingTimer: 0,
    loaded: false,
  };
  const serverNow = () => Date.now() + state.clockSkew;
  const isModerator = () => Boolean(state.rights.moderator);
  const isOwner = () => state.rights.role === "owner";

  const socket = openChatSocket(config.socket, {
    root,
    name: "loungeSocket",
    stream: () => state.stream,
    resend: () => composer.resend(),
    lost: () => {
      if (!state.removed) setRemoved("This lounge is no longer available to you. Reload the page to check again.");
    },
    onSnapshot: (frame) => onSnapshot(frame),
    onEvent: (frame) => onEvent(frame),
    onRightsChanged: (frame) => applyRights(frame.rights || {}),
    onError: (frame) => onErrorFrame(frame),
    onMessage: (frame) => onFrame(frame),
  });
  const log = messageLog(ui.log, {
    loaded: () => state.loaded,
    empty: "No messages yet. Say hello, or ask the coach a question.",
    loading: "Loading messages…",
  });
  const roving = rovingMessages(ui.log);
  const composer = createComposer({
    ui,
    log,
    socket,
    maxBytes,
    author: me.name,
    // The status line above the box already says why: the refusal is not repeated below it.
    refuse: () => Boolean(blocked()),
    // "Ask the coach" with an empty box asks about the conversation so far.
    onEmpty: ({ askCoach = false }) => {
      if (!askCoach) return false;
      composer.showError("");
      summon(uuid());
      return true;
    },
    // "Ask the coach" with text: the post and its summons are one action (as an @coach mention),
    // so slow mode cannot refuse the summons of a post that landed.
    extra: ({ askCoach = false }) => (askCoach ? { summon_coach: true } : {}),
    onInput: () => {
      const now = Date.now();
      if (ui.body.value.trim() && !blocked() && now - state.lastTypingSent >= TYPING_SEND_MS) {
        if (socket.send({ type: "typing" })) state.lastTypingSent = now;
      }
    },
  });
  const streams = new CoachStreams({ socket, log, find: (id) => state.messages.get(id), nodeOf: (entry) => entry.el });

  // ---------------------------------------------------------------------------------- frames
  function onSnapshot(frame) {
    state.stream = frame.stream;
    const data = frame.data || {};
    if (data.lounge) applyLounge(data.lounge);
    applyRights(frame.rights || {});
    state.messages.clear();
    streams.clear();
    // Unsent messages stay, at the end.
    log.rebuild(() => {
      for (const message of data.messages || []) addMessage(message, { scroll: false });
    });
    state.pins = new Map((data.pins || []).map((p) => [p.id, p]));
    renderPins();
    state.presence = new Map((data.presence || []).map((u) => [u.id, u.name]));
    renderPresence();
    state.reports = new Map((data.reports || []).map((r) => [r.id, r]));
    renderReports();
    renderMembers();
    state.loaded = true;
    root.dataset.state = "ready";
    log.renderEmpty();
    // A notification's link (#msg-<id>, a mention) lands on its message once the history is in.
    const linked =
      !state.linkedShown && /^#msg-\d+$/.test(location.hash) ? document.getElementById(location.hash.slice(1)) : null;
    state.linkedShown = true; // once per page: a reconnect's snapshot does not jump back there
    if (linked) {
      // Scroll the log only (not the page, whose header stays in view), and mark the message.
      const offset = linked.getBoundingClientRect().top - log.list.getBoundingClientRect().top;
      log.list.scrollTop += offset - log.list.clientHeight / 3;
      linked.classList.add("msg-linked");
    } else log.scrollToBottom(true);
    composer.resend();
  }

  function onEvent(frame) {
    if (frame.stream && frame.stream !== state.stream) return personalEvent(frame); // notifications for every page
    const data = frame.data || {};
    switch (frame.event) {
      case "message.created":
        return onCreated(data.message);
      case "message.edited":
        return onEdited(data.message);
      case "message.completed":
        return onCompleted(data.message);
      case "message.hidden":
      case "message.unhidden":
      case "message.deleted":
      case "message.pinned":
      case "message.unpinned":
        return onModerated(frame.event, data);
      case "coach.delta":
        return streams.delta(data);
      case "typing":
        return onTyping(data.user);
      case "presence.joined":
        state.presence.set(data.user.id, data.user.name);
        return renderPresence();
      case "presence.left":
        state.presence.delete(data.user.id);
        return renderPresence();
      case "lounge.updated":
        return applyLounge(data);
      case "report.created":
        state.reports.set(data.report.id, data.report);
        return renderReports();
      case "report.resolved":
        state.reports.delete(data.report.id);
        return renderReports();
      default:
        if (frame.event?.startsWith("member.")) return onMember(frame.event, data);
    }
  }

  function onFrame(frame) {
    if (frame.type === "ack") return onAck(frame);
    if (frame.type === "rights") return applyRights(frame.rights || {});
    if (frame.type === "coach.text") return streams.text(frame);
  }

  function onAck(frame) {
    const pending = frame.ref ? state.refs.get(frame.ref) : undefined;
    if (frame.ref) state.refs.delete(frame.ref);
    const item = frame.client_msg_id ? composer.acknowledge(frame.client_msg_id, state.messages.has(frame.message_id)) : undefined;
    // The post landed but its @coach summons was refused (e.g. the AI quota): say so, keep the post.
    if (frame.coach?.refused) toast(frame.coach.message || "The coach was not asked.", { kind: "warning" });
    if (item) {
      if (!frame.duplicate && !isModerator()) state.rights.last_posted_at = new Date(serverNow()).toISOString();
      updateComposer();
      return;
    }
    if (!pending) return;
    if (pending.kind === "report") toast("Thank you. The moderators will look at it.");
    if (pending.kind === "edit") toast("Your message was updated.");
  }

  function onErrorFrame(frame) {
    const ref = frame.ref;
    const retry = typeof frame.retry_after === "number" ? frame.retry_after : null;
    if (frame.code === "muted" && retry !== null) {
      state.rights.muted_until = new Date(serverNow() + retry * 1000).toISOString();
    }
    if (frame.code === "slow_mode" && retry !== null && state.rights.slow_mode_seconds) {
      const last = serverNow() + retry * 1000 - state.rights.slow_mode_seconds * 1000;
      state.rights.last_posted_at = new Date(last).toISOString();
    }
    if (frame.code === "locked") state.rights.locked = true;
    const shownAbove = blocked()?.code === frame.code; // the status line says it: once is enough
    if (composer.restore(ref, shownAbove ? "" : frame.message || "The message was not sent.")) {
      updateComposer();
      return;
    }
    const pending = ref ? state.refs.get(ref) : undefined;
    if (ref) state.refs.delete(ref);
    if (frame.code === "rate_limited") {
      composer.showError(frame.message || "Too many messages; slow down.");
      if (composer.outbox.size) setTimeout(composer.resend, Math.max(1, retry || 1) * 1000);
      return;
    }
    const text = frame.message || "That did not work.";
    if (pending?.kind === "moderate" || pending?.kind === "resolve") {
      if (ui.modError) ui.modError.textContent = text;
      toast(text, { kind: "warning" });
    } else if (pending?.kind === "edit" || pending?.kind === "report" || pending?.kind === "stop") {
      toast(text, { kind: "warning" });
      if (pending.button) pending.button.disabled = false;
    } else {
      composer.showError(text);
    }
    updateComposer();
  }

  // ---------------------------------------------------------------------------------- rights
  function applyRights(rights) {
    Object.assign(state.rights, rights);
    if (rights.now) {
      const server = Date.parse(rights.now);
      if (!Number.isNaN(server)) state.clockSkew = server - Date.now();
    }
    root.dataset.moderator = String(isModerator());
    root.dataset.member = String(Boolean(state.rights.member));
    if (ui.joinForm) ui.joinForm.hidden = Boolean(state.rights.member);
    if (ui.role && state.rights.role) ui.role.textContent = ROLE_BADGE[state.rights.role] || ui.role.textContent;
    if (ui.leaveForm) ui.leaveForm.hidden = isOwner();
    if (ui.ownerNote) ui.ownerNote.hidden = !isOwner();
    updateComposer();
  }

  function applyLounge(lounge) {
    if ("locked" in lounge) state.rights.locked = lounge.locked;
    if ("slow_mode_seconds" in lounge) state.rights.slow_mode_seconds = lounge.slow_mode_seconds;
    ui.locked.hidden = !state.rights.locked;
    ui.slow.hidden = !state.rights.slow_mode_seconds;
    ui.slowSeconds.textContent = String(state.rights.slow_mode_seconds || 0);
    if (ui.lockToggle) {
      ui.lockToggle.textContent = state.rights.locked ? "Unlock room" : "Lock room";
      ui.lockToggle.setAttribute("aria-pressed", String(Boolean(state.rights.locked)));
    }
    const input = ui.slowForm?.querySelector("input");
    if (input && document.activeElement !== input) input.value = String(state.rights.slow_mode_seconds || 0);
    updateComposer();
  }

  /** Why the person cannot post now, or null. `full` also disables the text box. */
  function blocked() {
    const rights = state.rights;
    if (state.removed) return { code: "removed", text: state.removed, full: true };
    if (!rights.member) {
      const text =
        config.lounge.access === "open"
          ? "You are not a member of this lounge. Join it to post and ask the coach."
          : "You are not a member of this lounge.";
      return { code: "not_member", text, full: true };
    }
    if (rights.moderator) return null;
    if (rights.locked) return { code: "locked", text: "The lounge is locked: only moderators can post.", full: true };
    const now = serverNow();
    const mutedUntil = rights.muted_until ? Date.parse(rights.muted_until) : NaN;
    if (mutedUntil > now) {
      const text = `You are muted by a moderator. You can post again in ${duration((mutedUntil - now) / 1000)}.`;
      const until = new Date(mutedUntil - state.clockSkew).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return { code: "muted", text, full: true, ticking: true, announce: `You are muted by a moderator until ${until}.` };
    }
    if (rights.slow_mode_seconds && rights.last_posted_at) {
      const ready = Date.parse(rights.last_posted_at) + rights.slow_mode_seconds * 1000;
      if (ready > now) {
        const text = `Slow mode (one message every ${rights.slow_mode_seconds} s): you can post again in ${duration((ready - now) / 1000)}.`;
        return { code: "slow_mode", text, full: false, ticking: true, announce: `Slow mode: one message every ${rights.slow_mode_seconds} seconds.` };
      }
    }
    return null;
  }

  function updateComposer() {
    const block = blocked();
    ui.composer.dataset.blocked = block ? block.code : "";
    ui.status.hidden = !block;
    ui.reason.textContent = block ? block.text : "";
    const announce = block ? block.announce || block.text : state.announced ? "You can post again." : "";
    if ((block?.code || "") !== state.announced) ui.announce.textContent = announce;
    state.announced = block?.code || "";
    ui.body.disabled = Boolean(block?.full);
    // Over the cap, Send stays enabled: pressing it explains what is wrong (the counter shows it too).
    ui.send.disabled = Boolean(block);
    ui.ask.disabled = Boolean(block);
    clearInterval(state.countdown);
    state.countdown = 0;
    if (block?.ticking) state.countdown = setInterval(updateComposer, 1000);
  }

  function setRemoved(text) {
    state.removed = text;
    ui.removed.textContent = text;
    ui.removed.hidden = false;
    updateComposer();
  }

  // ---------------------------------------------------------------------------------- messages
  function onCreated(message) {
    if (!message) return;
    if (message.author) {
      state.typing.delete(message.author.id);
      renderTyping();
    }
    const mine = message.author?.id === me.id && message.client_msg_id;
    // Our own message replaces its pending placeholder, in place (the ack may come before or after).
    const placeholder = mine ? log.pendingItem(message.client_msg_id) : null;
    addMessage(message, placeholder ? { replace: placeholder } : {});
  }

  function onEdited(message) {
    const entry = message && state.messages.get(message.id);
    if (!entry) return;
    Object.assign(entry.data, {
      body: message.body,
      html: message.html,
      edited_at: message.edited_at,
    });
    rerender(entry);
    if (state.pins.has(message.id)) {
      state.pins.set(message.id, { ...state.pins.get(message.id), body: message.body });
      renderPins();
    }
  }

  function onCompleted(message) {
    if (!message) return;
    const entry = state.messages.get(message.id);
    if (!entry) return addMessage(message);
    entry.data = { ...entry.data, ...message, hidden: entry.data.hidden, hidden_reason: entry.data.hidden_reason };
    streams.complete(entry, message);
    const focusInside = entry.el.contains(document.activeElement);
    const near = log.isNearBottom();
    rerender(entry);
    record(entry, entry.el);
    if (focusInside) entry.el.querySelector("[data-body]")?.focus();
    if (near) log.scrollToBottom(true);
  }

  function onModerated(event, data) {
    const entry = state.messages.get(data.id);
    switch (event) {
      case "message.hidden":
        state.pins.delete(data.id);
        renderPins();
        if (!entry) return;
        if (isModerator() || isMine(entry.data)) {
          // Moderators keep the text, marked; the author sees a notice with the reason instead.
          entry.data.hidden = true;
          entry.data.hidden_reason = data.reason || "";
          if (!isModerator()) Object.assign(entry.data, { body: "", html: "", citations: [] });
          rerender(entry);
        } else removeMessage(entry);
        return;
      case "message.unhidden":
        if (entry) {
          Object.assign(entry.data, data.message || {}, { hidden: false, hidden_reason: "" });
          rerender(entry);
        } else if (!isModerator()) {
          // The event has no text; a fresh snapshot brings the restored message back in place.
          socket.refresh();
        }
        return;
      case "message.deleted":
        state.pins.delete(data.id);
        renderPins();
        if (entry) removeMessage(entry);
        return;
      case "message.pinned":
        if (entry) {
          entry.data.pinned = true;
          rerender(entry);
          state.pins = new Map([[data.id, entry.data], ...state.pins]);
        } else {
          state.pins = new Map([[data.id, { id: data.id, body: "(an earlier message)", author: null }], ...state.pins]);
        }
        renderPins();
        return;
      case "message.unpinned":
        state.pins.delete(data.id);
        renderPins();
        if (entry) {
          entry.data.pinned = false;
          rerender(entry);
        }
    }
  }

  function removeMessage(entry) {
    const focusInside = entry.el.contains(document.activeElement);
    entry.el.remove();
    state.messages.delete(entry.data.id);
    log.renderEmpty();
    if (focusInside) roving.focus();
  }

  /**
   * @param {any} message a message payload
   * @param {{scroll?: boolean, replace?: Element}} [options]
   */
  function addMessage(message, { scroll, replace } = {}) {
    const existing = state.messages.get(message.id);
    if (existing) {
      existing.data = message;
      existing.live = new StreamText(message.body || "");
      rerender(existing);
      return existing;
    }
    const nearBottom = log.isNearBottom();
    const entry = {
      data: message,
      el: /** @type {HTMLElement} */ (document.createElement("li")),
      live: new StreamText(message.body || ""),
      history: [],
    };
    state.messages.set(message.id, entry);
    entry.el = renderMessage(entry);
    if (replace) replace.replaceWith(entry.el);
    else log.insert(entry.el);
    record(entry, entry.el);
    streams.arrived(message.id);
    log.renderEmpty();
    if (scroll || nearBottom) log.scrollToBottom(true);
    return entry;
  }

  function rerender(entry) {
    const focused = entry.el === document.activeElement;
    const fresh = renderMessage(entry);
    entry.el.replaceWith(fresh);
    entry.el = fresh;
    roving.refresh();
    if (focused) fresh.focus();
  }

  const isMine = (m) => m.author_kind === "user" && m.author?.id === me.id;

  function authorName(message) {
    if (message.author_kind === "coach") return message.coach_name || config.lounge.coach_name || "Coach";
    if (message.author_kind === "system") return "Lounge";
    return message.author?.name || "Someone";
  }

  function renderMessage(entry) {
    const m = entry.data;
    const mine = isMine(m);
    // Only moderators get a hidden message's text; its author gets the notice in its place.
    const withheld = m.hidden && !isModerator();
    const streaming = m.status === "streaming";
    const head = el(
      "p",
      { class: "msg-head" },
      el("span", { class: "msg-author", text: authorName(m) }),
      m.author_kind === "coach"
        ? el("span", {
            class: "badge msg-provider",
            "data-provider": true,
            text: streaming ? "answering…" : m.provider_label || "coach",
          })
        : null,
      mine ? el("span", { class: "badge", text: "you" }) : null,
      timeStamp(m.created_at),
      m.edited_at ? el("span", { class: "muted msg-flag", text: "edited" }) : null,
      m.pinned ? el("span", { class: "badge msg-flag", text: "pinned" }) : null,
      m.hidden && !withheld ? el("span", { class: "badge badge-warn msg-flag", text: `hidden${m.hidden_reason ? `: ${m.hidden_reason}` : ""}` }) : null,
    );
    const body = withheld
      ? el(
          "div",
          { class: "msg-body msg-hidden-note", "data-body": true, "data-hidden-note": true, tabindex: "-1" },
          el("p", { text: `Hidden by a moderator${m.hidden_reason ? `: ${m.hidden_reason}` : "."}` }),
          el("p", { class: "muted", text: "Only you see this notice; the others no longer see your message." }),
        )
      : messageBody(m, entry.live);
    const item = el(
      "li",
      {
        class: `msg msg-${m.author_kind}${mine ? " msg-mine" : ""}${m.hidden ? " msg-hidden" : ""}`,
        id: `msg-${m.id}`,
        dataset: { messageId: String(m.id), status: m.status, kind: m.author_kind },
      },
      head,
      body,
    );
    // The notes that grounded a finished coach reply, with its "[n]" linked to them.
    const citations = m.author_kind === "coach" ? coachCitations(m, body) : null;
    if (citations) item.append(citations);
    if (entry.history.length) item.dataset.history = entry.history.join(" ");
    const note = statusNote(m);
    if (note) item.append(note);
    const tools = renderTools(entry, mine);
    if (tools) item.append(tools);
    return item;
  }

  function renderTools(entry, mine) {
    const m = entry.data;
    const tools = el("div", { class: "msg-tools" });
    const who = authorName(m);
    if (m.status === "streaming" && m.author_kind === "coach" && (m.summoned_by === me.id || isModerator())) {
      tools.append(stopButton({ socket, refs: state.refs, id: m.id, ariaLabel: `Stop ${who}'s reply` }));
    }
    const actions = [];
    const visible = !m.hidden && !m.deleted;
    if (mine && visible && state.rights.member) actions.push(["Edit", "edit", () => editMessage(entry)]);
    if (!mine && visible && state.rights.member && m.author_kind !== "system") {
      actions.push(["Report…", "report", () => reportMessage(entry)]);
    }
    if (isModerator()) {
      if (visible) actions.push([m.pinned ? "Unpin" : "Pin", m.pinned ? "unpin" : "pin", () => moderate(m.pinned ? "unpin" : "pin", { message_id: m.id })]);
      if (m.hidden) actions.push(["Unhide", "unhide", () => moderate("unhide", { message_id: m.id })]);
      else actions.push(["Hide…", "hide", () => hideMessage(m)]);
      actions.push(["Delete…", "delete", () => deleteMessage(m)]);
    }
    if (actions.length) tools.append(menu(`Actions for ${who}'s message`, actions));
    return tools.childElementCount ? tools : null;
  }

  /**
   * A disclosure menu of buttons (<details>: keyboard operable without any script).
   * @param {string} label
   * @param {Array<[string, string, () => void]>} actions
   */
  function menu(label, actions) {
    const details = el("details", { class: "menu" });
    const summary = el("summary", { "aria-label": label, title: label }, el("span", { "aria-hidden": "true", text: "⋯" }));
    const list = el("div", { class: "menu-items" });
    for (const [text, action, run] of actions) {
      list.append(
        el("button", {
          type: "button",
          class: "link",
          dataset: { action },
          text,
          onclick: () => {
            details.open = false;
            run();
          },
        }),
      );
    }
    details.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && details.open) {
        details.open = false;
        summary.focus();
      }
    });
    details.append(summary, list);
    return details;
  }

  // ---------------------------------------------------------------------------------- the coach
  function summon(requestId, replyTo) {
    const frame = { type: "coach.summon", request_id: requestId, ref: requestId };
    if (replyTo) frame.reply_to = replyTo;
    state.refs.set(requestId, { kind: "summon" });
    if (!socket.send(frame)) composer.showError("Not connected: the coach was not asked. Try again when the connection is back.");
  }

  // "Ask the coach": the composer's text (if any) is posted, then the coach is asked about it.
  ui.ask.addEventListener("click", () => composer.submit({ askCoach: true }));

  // ---------------------------------------------------------------------------------- typing, presence
  function onTyping(user) {
    if (!user || user.id === me.id) return;
    state.typing.set(user.id, { name: user.name, until: Date.now() + TYPING_SHOW_MS });
    renderTyping();
  }

  function renderTyping() {
    const now = Date.now();
    for (const [id, who] of state.typing) if (who.until <= now) state.typing.delete(id);
    const names = [...state.typing.values()].map((who) => who.name);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = "Several people are typing…";
    if (ui.typing.textContent !== text) ui.typing.textContent = text;
    clearTimeout(state.typingTimer);
    if (names.length) state.typingTimer = setTimeout(renderTyping, 1000);
  }

  function renderPresence() {
    const people = [...state.presence].sort((a, b) => a[1].localeCompare(b[1]));
    ui.presence.replaceChildren(
      ...(people.length
        ? people.map(([id, name]) =>
            el("li", { dataset: { userId: String(id) } }, el("span", { class: "dot", "aria-hidden": "true" }), name, id === me.id ? el("span", { class: "muted", text: " (you)" }) : null),
          )
        : [el("li", { class: "muted", text: "Nobody else is here right now." })]),
    );
    ui.presenceCount.textContent = people.length ? `(${people.length})` : "";
  }

  // ---------------------------------------------------------------------------------- pins
  function renderPins() {
    const items = [...state.pins.values()];
    ui.pinsSection.hidden = items.length === 0;
    ui.pins.replaceChildren(
      ...items.map((pin) => {
        const excerpt = (pin.body || "").length > PIN_EXCERPT ? `${pin.body.slice(0, PIN_EXCERPT)}…` : pin.body || "";
        const link = el("a", { href: `#msg-${pin.id}`, class: "pin-link" }, el("strong", { text: `${authorName(pin)}: ` }), excerpt);
        link.addEventListener("click", (event) => {
          const target = document.getElementById(`msg-${pin.id}`);
          if (!target) return;
          event.preventDefault();
          target.scrollIntoView({ block: "center" });
          target.querySelector("[data-body]")?.focus();
        });
        const unpin = isModerator()
          ? el("button", { type: "button", class: "link", text: "Unpin", "aria-label": `Unpin ${authorName(pin)}'s message`, onclick: () => moderate("unpin", { message_id: pin.id }) })
          : null;
        return el("li", { dataset: { pinId: String(pin.id) } }, link, unpin ? " " : null, unpin);
      }),
    );
  }

  // ---------------------------------------------------------------------------------- moderation
  function moderate(action, fields = {}) {
    const ref = `mod-${uuid()}`;
    state.refs.set(ref, { kind: "moderate", action });
    if (ui.modError) ui.modError.textContent = "";
    if (!socket.send({ type: "moderate", action, ref, ...fields })) toast("Not connected; try again in a moment.", { kind: "warning" });
  }

  async function hideMessage(m) {
    const reason = await ask({ title: `Hide ${authorName(m)}'s message`, label: "Reason (shown to moderators and in the log)", required: true, ok: "Hide" });
    if (reason !== null) moderate("hide", { message_id: m.id, reason });
  }

  async function deleteMessage(m) {
    const reason = await ask({ title: `Delete ${authorName(m)}'s message`, label: "Reason (kept in the moderation log)", help: "Nobody will see the text again, moderators included.", required: true, ok: "Delete" });
    if (reason !== null) moderate("delete", { message_id: m.id, reason });
  }

  async function reportMessage(entry) {
    const m = entry.data;
    const reason = await ask({ title: `Report ${authorName(m)}'s message`, label: "What is wrong with it?", help: "Only the lounge's moderators see reports.", required: true, ok: "Report" });
    if (reason === null) return;
    const ref = `report-${uuid()}`;
    state.refs.set(ref, { kind: "report" });
    if (!socket.send({ type: "report", message_id: m.id, reason, ref })) toast("Not connected; try again in a moment.", { kind: "warning" });
  }

  async function editMessage(entry) {
    const body = await ask({
      title: "Edit your message",
      label: "Message",
      value: entry.data.body,
      required: true,
      ok: "Save",
      validate: (text) => (utf8Bytes(text) > maxBytes ? `Too long: at most ${maxBytes} bytes, this is ${utf8Bytes(text)}.` : ""),
    });
    if (body === null || body === entry.data.body) return;
    const ref = `edit-${uuid()}`;
    state.refs.set(ref, { kind: "edit" });
    if (!socket.send({ type: "message.edit", message_id: entry.data.id, body, ref })) toast("Not connected; your edit was not saved.", { kind: "warning" });
  }

  async function resolveReport(report, action) {
    if (action === "delete") {
      const by = report.reporter?.name || "Someone";
      const help = "Nobody will see the text again, moderators included. The report and the log keep a record.";
      if (!(await confirmAction({ title: `Delete the message ${by} reported?`, help, ok: "Delete" }))) return;
    }
    const ref = `resolve-${uuid()}`;
    state.refs.set(ref, { kind: "resolve" });
    if (!socket.send({ type: "report.resolve", report_id: report.id, action, ref })) toast("Not connected; try again in a moment.", { kind: "warning" });
  }

  function renderReports() {
    if (!ui.reports) return;
    const reports = [...state.reports.values()].sort((a, b) => (a.created_at < b.created_at ? -1 : 1));
    ui.reportsCount.textContent = reports.length ? `(${reports.length})` : "";
    ui.reports.replaceChildren(
      ...(reports.length
        ? reports.map((report) => {
            const by = report.reporter?.name || "Someone";
            return el(
              "li",
              { class: "report", dataset: { reportId: String(report.id) } },
              el("p", { class: "report-head" }, el("strong", { text: by }), " reported ", el("a", { href: `#msg-${report.message_id}`, text: "a message" }), " ", el("time", { datetime: report.created_at, class: "muted", text: clock(report.created_at) })),
              el("p", { class: "report-reason" }, el("span", { class: "muted", text: "Reason: " }), report.reason),
              el("blockquote", { class: "report-quote", text: report.reported_body || "(empty)" }),
              el(
                "p",
                { class: "report-actions" },
                el("button", { type: "button", class: "secondary small", dataset: { resolve: "dismiss" }, "aria-label": `Dismiss ${by}'s report`, text: "Dismiss", onclick: () => resolveReport(report, "dismiss") }),
                el("button", { type: "button", class: "secondary small", dataset: { resolve: "hide" }, "aria-label": `Hide the message ${by} reported`, text: "Hide message", onclick: () => resolveReport(report, "hide") }),
                el("button", { type: "button", class: "danger small", dataset: { resolve: "delete" }, "aria-label": `Delete the message ${by} reported`, text: "Delete message", onclick: () => resolveReport(report, "delete") }),
              ),
            );
          })
        : [el("li", { class: "muted", text: "No open reports." })]),
    );
  }

  function onMember(event, data) {
    const user = data.user || {};
    const aboutMe = user.id === me.id;
    if (aboutMe && event === "member.kicked") setRemoved("A moderator removed you from this lounge.");
    if (aboutMe && event === "member.banned") setRemoved("A moderator banned you from this lounge.");
    if (aboutMe && event === "member.role_changed") onMyRole(data.role); // a `rights` frame follows
    if (!isModerator()) return;
    const row = state.members.get(user.id);
    switch (event) {
      case "member.joined":
        state.members.set(user.id, { id: user.id, name: user.name, role: "member", muted_until: null, banned: false });
        break;
      case "member.left":
      case "member.kicked":
      case "member.unbanned":
        state.members.delete(user.id);
        break;
      case "member.banned":
        if (row) row.banned = true;
        break;
      case "member.muted":
        if (row) row.muted_until = data.until || null;
        break;
      case "member.unmuted":
        if (row) row.muted_until = null;
        break;
      case "member.role_changed":
        if (row && data.role) row.role = data.role;
        break;
    }
    renderMembers();
  }

  function onMyRole(role) {
    const wasModerator = isModerator();
    applyRights({ role, moderator: role === "owner" || role === "moderator" });
    if (role === "owner") toast("You now own this lounge.");
    // The member list, reports and room controls are for moderators: a new one reloads to get them.
    if (!wasModerator && isModerator()) toast("Reload the page for the member list and the room controls.", { kind: "warning" });
  }

  async function makeOwner(row) {
    const help = `${row.name} becomes the owner and can change roles; you stay a moderator, and can then leave.`;
    if (await confirmAction({ title: `Make ${row.name} the owner of ${config.lounge.title}?`, help, ok: "Make owner" })) {
      moderate("transfer_ownership", { user_id: row.id });
    }
  }

  function renderMembers() {
    if (!ui.members) return;
    const rows = [...state.members.values()];
    ui.membersCount.textContent = `(${rows.filter((r) => !r.banned).length})`;
    const now = serverNow();
    ui.members.replaceChildren(
      ...rows.map((row) => {
        const muted = row.muted_until && Date.parse(row.muted_until) > now;
        const staff = row.role === "owner" || row.role === "moderator";
        const badges = [];
        if (row.role !== "member") badges.push(el("span", { class: "badge", text: row.role }));
        if (muted) badges.push(el("span", { class: "badge badge-warn", title: new Date(row.muted_until).toLocaleString(), text: `muted until ${clock(row.muted_until)}` }));
        if (row.banned) badges.push(el("span", { class: "badge badge-danger", text: "banned" }));
        const actions = [];
        if (isOwner() && row.id !== me.id && !row.banned) actions.push(["Make owner…", "make-owner", () => makeOwner(row)]);
        if (row.id !== me.id && !staff) {
          if (row.banned) actions.push(["Unban", "unban", () => moderate("unban", { user_id: row.id })]);
          else {
            if (muted) actions.push(["Unmute", "unmute", () => moderate("unmute", { user_id: row.id })]);
            for (const minutes of MUTE_CHOICES) {
              actions.push([`Mute ${minutes} min`, `mute-${minutes}`, () => moderate("mute", { user_id: row.id, minutes })]);
            }
            actions.push(["Kick…", "kick", () => memberWithReason(row, "kick")]);
            actions.push(["Ban…", "ban", () => memberWithReason(row, "ban")]);
          }
        }
        return el(
          "li",
          { class: "member", dataset: { memberId: String(row.id) } },
          el("span", { class: "member-name", text: row.name }),
          row.id === me.id ? el("span", { class: "muted", text: " (you)" }) : null,
          " ",
          ...badges,
          actions.length ? menu(`Manage ${row.name}`, actions) : null,
        );
      }),
    );
  }

  async function memberWithReason(row, action) {
    const verb = action === "ban" ? "Ban" : "Remove";
    const help = action === "ban" ? "They will not see, join or post in this lounge until unbanned." : "They can join again if the lounge is open.";
    const reason = await ask({ title: `${verb} ${row.name}`, label: "Reason (optional, kept in the moderation log)", help, ok: verb });
    if (reason !== null) moderate(action, { user_id: row.id, reason });
  }

  ui.lockToggle?.addEventListener("click", () => moderate(state.rights.locked ? "unlock" : "lock"));
  ui.slowForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = ui.slowForm.querySelector("input");
    const seconds = Number.parseInt(input.value, 10);
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600) {
      ui.modError.textContent = "Slow mode is a whole number of seconds from 0 to 3600.";
      input.focus();
      return;
    }
    moderate("slow_mode", { seconds });
  });

  // ---------------------------------------------------------------------------------- the dialog
  /**
   * Ask for a line of text in a modal dialog; null when cancelled.
   * @param {{title: string, label: string, help?: string, value?: string, required?: boolean, ok?: string,
   *          validate?: (text: string) => string}} options
   * @returns {Promise<string|null>}
   */
  function ask({ title, label, help = "", value = "", required = false, ok = "OK", validate }) {
    const opener = document.activeElement;
    const form = dialog.querySelector("[data-dialog-form]");
    const input = dialog.querySelector("[data-dialog-input]");
    const error = dialog.querySelector("[data-dialog-error]");
    dialog.querySelector("[data-dialog-title]").textContent = title;
    dialog.querySelector("[data-dialog-label]").textContent = label;
    const helpNode = dialog.querySelector("[data-dialog-help]");
    helpNode.textContent = help;
    helpNode.hidden = !help;
    dialog.querySelector("[data-dialog-ok]").textContent = ok;
    input.value = value;
    error.textContent = "";
    return new Promise((resolve) => {
      const finish = (result) => {
        form.removeEventListener("submit", onSubmit);
        cancel.removeEventListener("click", onCancel);
        dialog.removeEventListener("cancel", onEscape);
        input.removeEventListener("keydown", onKey);
        if (dialog.open) dialog.close();
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        else roving.focus();
        resolve(result);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const text = input.value.trim();
        const problem = required && !text ? "Please fill this in." : validate?.(text) || "";
        if (problem) {
          error.textContent = problem;
          input.focus();
          return;
        }
        finish(text);
      };
      const onCancel = () => finish(null);
      const onEscape = (event) => {
        event.preventDefault();
        finish(null);
      };
      const onKey = (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
      };
      const cancel = dialog.querySelector("[data-dialog-cancel]");
      form.addEventListener("submit", onSubmit);
      cancel.addEventListener("click", onCancel);
      dialog.addEventListener("cancel", onEscape);
      input.addEventListener("keydown", onKey);
      dialog.showModal();
      input.focus();
    });
  }

  // ---------------------------------------------------------------------------------- menus
  // An open menu closes when the click or the focus goes elsewhere.
  const closeMenus = (event) => {
    for (const open of root.querySelectorAll("details.menu[open]")) if (!open.contains(event.target)) open.open = false;
  };
  document.addEventListener("click", closeMenus);
  document.addEventListener("focusin", closeMenus);

  // ---------------------------------------------------------------------------------- go
  applyRights(state.rights);
  applyLounge({});
  renderMembers();
  composer.updateBytes();
  socket.start();
}
