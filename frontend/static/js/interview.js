// Interview pages: the system check, the room and the mentor's live view.
// Protocol: docs/realtime-protocol.md ("Interview sessions"). The clock is the server's: the page
// counts down from the snapshot's `deadline`, corrected by `server_now` (the offset between the
// server's clock and this computer's), and never sends a time. Server text reaches the page
// through textContent only.

import { personalEvent } from "./app.js";
import { connect } from "./realtime.js";

const WARN_AT = [300, 60]; // seconds left: the 5- and 1-minute warnings
const AUTOSAVE_MS = 3000;

/** @param {string} id */
function config(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent || "null") : null;
}

/** A countdown from a server deadline; `offset` = server clock − local clock, in ms. */
class Countdown {
  /** @param {HTMLElement} node @param {(left: number) => void} [onTick] */
  constructor(node, onTick) {
    this.node = node;
    this.onTick = onTick || (() => {});
    this.deadline = Date.parse(node.dataset.deadline || "") || 0;
    this.offset = 0;
    this.timer = window.setInterval(() => this.tick(), 250);
  }

  /** @param {string} deadline @param {string} serverNow */
  sync(deadline, serverNow) {
    this.deadline = Date.parse(deadline);
    if (serverNow) this.offset = Date.parse(serverNow) - Date.now();
    this.tick();
  }

  left() {
    return Math.max(0, Math.floor((this.deadline - (Date.now() + this.offset)) / 1000));
  }

  tick() {
    const left = this.left();
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    this.node.textContent = `${minutes}:${seconds}`;
    this.node.dataset.left = String(left);
    this.onTick(left);
  }

  stop() {
    window.clearInterval(this.timer);
  }
}

// ------------------------------------------------------------------ the system check
function startCheck(root) {
  const cfg = config("check-config");
  const mark = (name, ok, text) => {
    const item = root.querySelector(`[data-check="${name}"]`);
    if (!item) return;
    item.dataset.state = ok ? "ok" : "failed";
    item.querySelector("[data-check-result]").textContent = text;
  };
  const offset = Math.round((Date.parse(cfg.server_now) - Date.now()) / 1000);
  const drift = Math.abs(offset);
  mark(
    "clock",
    drift < 120,
    drift < 2
      ? "in step"
      : `${drift} s ${offset > 0 ? "behind" : "ahead of"} the server; the countdown corrects for it`,
  );
  let answered = false;
  const socket = connect(cfg.ping, {
    onSnapshot: () => {
      answered = true;
      mark("socket", true, "connected");
      socket.stop();
    },
  });
  window.setTimeout(() => {
    if (!answered) mark("socket", false, "not reachable: check your network or proxy before you start");
  }, 8000);
}

// ------------------------------------------------------------------ the room
function startRoom(root) {
  const cfg = config("room-config");
  let snap = config("room-snapshot");
  const $ = (selector) => root.querySelector(selector);
  const ui = {
    countdown: $("[data-countdown]"),
    autosave: $("[data-autosave]"),
    warning: $("[data-warning]"),
    progress: $("[data-progress]"),
    number: $("[data-question-number]"),
    qdeadline: $("[data-question-deadline]"),
    prompt: $("[data-prompt]"),
    choices: $("[data-choices]"),
    editor: $("[data-editor]"),
    previous: $("[data-previous]"),
    next: $("[data-next]"),
    submit: $("[data-submit-form]"),
    over: $("[data-over]"),
  };
  const state = { revision: 0, dirty: false, closed: snap.session.state !== "in_progress", refs: new Map(), n: 0, warned: new Set(), questionId: snap.question ? snap.question.id : 0 };
  state.revision = snap.answer.revision;
  if (!ui.countdown) return;

  const clock = new Countdown(ui.countdown, (left) => {
    for (const at of WARN_AT) {
      if (left <= at && left > 0 && !state.warned.has(at) && !state.closed) {
        state.warned.add(at);
        ui.warning.hidden = false;
        ui.warning.textContent = at === 300 ? "5 minutes left." : "1 minute left: your last autosaved answer counts.";
      }
    }
    if (left === 0 && !state.closed) setClosed("The time is up: your last autosaved answer counts.");
  });
  clock.sync(snap.session.deadline, snap.session.server_now);
  if (state.closed || !ui.editor) return; // an interview that is over: nothing to connect to

  const ref = (kind) => {
    state.n += 1;
    const id = `${kind}-${state.n}`;
    state.refs.set(id, kind);
    return id;
  };

  function setStatus(text) {
    if (ui.autosave) ui.autosave.textContent = text;
  }

  function setClosed(text) {
    state.closed = true;
    root.dataset.state = "closed";
    if (ui.editor) ui.editor.disabled = true;
    for (const box of root.querySelectorAll("[data-choices] input")) box.disabled = true;
    if (ui.over) ui.over.hidden = false;
    ui.warning.hidden = false;
    ui.warning.textContent = text;
  }

  function currentAnswer() {
    if (snap.question && snap.question.question_type === "multiple_choice") {
      const chosen = [...root.querySelectorAll("[data-choices] input:checked")].map((box) => box.value);
      return { choice_ids: chosen };
    }
    return { text: ui.editor ? ui.editor.value : "" };
  }

  function save() {
    if (!state.dirty || state.closed || !snap.question) return;
    state.revision += 1;
    const sent = socket.send({ type: "answer.save", ref: ref("save"), question_id: snap.question.id, revision: state.revision, ...currentAnswer() });
    if (sent) {
      state.dirty = false;
      setStatus("saving…");
    } else {
      state.revision -= 1;
      setStatus("not saved yet (offline): kept here, sent on reconnect");
    }
  }

  function render(data) {
    snap = data;
    const q = data.question;
    // Revisions only grow per question: keep ours if the server's is older (a save in flight).
    state.revision = q && q.id === state.questionId ? Math.max(state.revision, data.answer.revision) : data.answer.revision;
    state.questionId = q ? q.id : 0;
    ui.number.textContent = String(data.session.position);
    ui.prompt.textContent = q ? q.prompt : "";
    ui.choices.replaceChildren();
    const mc = q && q.question_type === "multiple_choice";
    ui.choices.hidden = !mc;
    ui.editor.hidden = !!mc;
    if (mc) {
      for (const choice of q.choices) {
        const label = document.createElement("label");
        const box = document.createElement("input");
        box.type = "checkbox";
        box.name = "choice";
        box.value = choice.id;
        box.checked = data.answer.choice_ids.includes(choice.id);
        label.append(box, " ", choice.text);
        ui.choices.append(label);
      }
    } else if (!state.dirty) {
      ui.editor.value = data.answer.text;
    }
    ui.qdeadline.textContent = data.answer.deadline ? `(this question until ${new Date(Date.parse(data.answer.deadline) - clock.offset).toLocaleTimeString()})` : "";
    for (const step of ui.progress.querySelectorAll("[data-position]")) {
      const item = data.progress.find((p) => String(p.position) === step.dataset.position);
      step.classList.toggle("answered", !!item && item.answered);
      step.classList.toggle("current", step.dataset.position === String(data.session.position));
    }
    setStatus(data.answer.saved_at ? `saved ${new Date(Date.parse(data.answer.saved_at) - clock.offset).toLocaleTimeString()}` : "nothing saved yet");
  }

  function open(position) {
    if (state.closed || position < 1 || position > snap.session.question_total) return;
    save();
    state.dirty = false;
    socket.send({ type: "question.open", ref: ref("open"), position });
  }

  const socket = connect(cfg.socket, {
    onSnapshot: (frame) => {
      const data = frame.data;
      clock.sync(data.session.deadline, data.session.server_now);
      if (data.session.state !== "in_progress") setClosed("This interview is over: your last autosaved answers count.");
      const pending = state.dirty && data.question && snap.question && data.question.id === snap.question.id;
      render(data);
      if (pending) save(); // text typed while offline goes out now
    },
    onEvent: (frame) => {
      if (frame.stream && frame.stream.startsWith("user.")) return personalEvent(frame); // this socket carries it
      const data = frame.data || {};
      if (frame.event === "session.time_extended") {
        clock.sync(data.deadline, "");
        state.warned.clear();
        ui.warning.hidden = false;
        ui.warning.textContent = `Extra time granted: ${Math.round(data.seconds / 60)} min.`;
      } else if (frame.event === "session.closed") {
        setClosed(data.state === "expired" ? "The time is up: your last autosaved answer counts." : "Submitted.");
      } else if (frame.event === "answer.saved") {
        const step = ui.progress.querySelector(`[data-position="${data.position}"]`);
        if (step) step.classList.add("answered");
      }
    },
    onMessage: (frame) => {
      if (frame.type === "clock") clock.sync(frame.deadline, frame.server_now);
      const kind = frame.ref ? state.refs.get(frame.ref) : undefined;
      if (frame.ref) state.refs.delete(frame.ref);
      if (frame.type === "ack" && kind === "save" && frame.duplicate) {
        // The server holds a newer revision than ours (another tab?): go past it and send again.
        if (frame.question_id === state.questionId) state.revision = Math.max(state.revision, frame.revision);
        state.dirty = true;
      } else if (frame.type === "ack" && kind === "save") {
        setStatus(`saved ${new Date(Date.parse(frame.saved_at) - clock.offset).toLocaleTimeString()}`);
      } else if (frame.type === "ack" && kind === "submit") {
        window.location.assign(cfg.history_url);
      } else if (frame.type === "question") {
        clock.sync(frame.session.deadline, frame.session.server_now);
        state.dirty = false;
        render(frame);
      }
    },
    onError: (frame) => {
      if (["deadline_passed", "session_closed"].includes(frame.code)) setClosed(frame.message);
      else if (frame.code === "question_closed") setStatus(frame.message);
      else if (frame.message) setStatus(frame.message);
    },
  });

  ui.editor.addEventListener("input", () => {
    state.dirty = true;
    setStatus("editing…");
  });
  ui.editor.addEventListener("blur", save);
  ui.choices.addEventListener("change", () => {
    state.dirty = true;
    save();
  });
  window.setInterval(save, AUTOSAVE_MS);
  ui.previous.addEventListener("click", () => open(snap.session.position - 1));
  ui.next.addEventListener("click", () => open(snap.session.position + 1));
  ui.progress.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    if (target.dataset.position) open(Number(target.dataset.position));
  });
  ui.submit.addEventListener("submit", (event) => {
    if (!socket.send({ type: "ping" })) return; // offline: the form posts instead
    event.preventDefault();
    save();
    socket.send({ type: "session.submit", ref: ref("submit") });
  });
  if (snap.session.integrity_consent) {
    ui.editor.addEventListener("paste", () => socket.send({ type: "integrity.signal", ref: ref("signal"), kind: "paste" }));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") socket.send({ type: "integrity.signal", ref: ref("signal"), kind: "focus_loss" });
    });
  }
}

// ------------------------------------------------------------------ the mentor's live view
function startWatch(root) {
  const cfg = config("watch-config");
  const $ = (selector) => root.querySelector(selector);
  const countdown = $("[data-countdown]");
  if (!countdown) return;
  const clock = new Countdown(countdown);
  const snap = config("room-snapshot");
  clock.sync(snap.session.deadline, snap.session.server_now);
  const set = (selector, text) => {
    const node = $(selector);
    if (node) node.textContent = String(text);
  };
  connect(cfg.socket, {
    onSnapshot: (frame) => {
      const data = frame.data;
      clock.sync(data.session.deadline, data.session.server_now);
      set("[data-question-number]", data.session.position);
      set("[data-answered]", data.progress.filter((p) => p.answered).length);
      set("[data-session-state]", data.session.state);
    },
    onEvent: (frame) => {
      if (frame.stream && frame.stream.startsWith("user.")) return personalEvent(frame);
      const data = frame.data || {};
      if (frame.event === "session.time_extended") clock.sync(data.deadline, "");
      else if (frame.event === "session.closed") set("[data-session-state]", data.state);
      else if (frame.event === "question.opened") set("[data-question-number]", data.position);
      else if (frame.event === "answer.saved") {
        set("[data-answered]", data.answered);
        root.querySelector(`[data-progress] [data-position="${data.position}"]`)?.classList.add("answered");
      } else if (frame.event === "integrity.signalled") {
        set("[data-paste]", data.paste_count);
        set("[data-focus]", data.focus_loss_count);
      }
    },
    onMessage: (frame) => {
      if (frame.type === "clock") clock.sync(frame.deadline, frame.server_now);
    },
  });
}

const check = document.querySelector("[data-interview-check]");
if (check) startCheck(check);
const room = document.querySelector("[data-interview-room]");
if (room) startRoom(room);
const watch = document.querySelector("[data-interview-watch]");
if (watch) startWatch(watch);
