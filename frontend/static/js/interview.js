// Interview pages: the system check, the room, the mentor's live view and the grading, live on the
// report page.
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
    ask: $("[data-ask]"),
    askOffer: $("[data-ask-offer]"), // hidden as a whole: `button[hidden]` loses to app.css's display
    askNote: $("[data-ask-note]"),
    followup: $("[data-followup]"),
    followupLabel: $("[data-followup-label]"),
    followupBody: $("[data-followup-body]"),
    followupError: $("[data-followup-error]"),
    followupEditor: $("[data-followup-editor]"),
    followupStatus: $("[data-followup-autosave]"),
  };
  // The interviewer's follow-up on the current answer (null: none asked), and its response's autosave.
  const fu = { data: snap.followup || null, revision: 0, dirty: false, asking: false };
  if (fu.data) fu.revision = fu.data.response.revision;
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
    if (ui.followupEditor) ui.followupEditor.disabled = true;
    if (ui.askOffer) ui.askOffer.hidden = true;
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

  const WRITTEN = ["open", "behavioural", "system_design"];

  function renderAsk() {
    if (!ui.ask) return;
    const q = snap.question;
    const offered = !!cfg.follow_ups && !!q && WRITTEN.includes(q.question_type) && !fu.data && !state.closed;
    if (ui.askOffer) ui.askOffer.hidden = !offered;
    ui.ask.disabled = fu.asking || !(state.revision > 0 || (ui.editor && ui.editor.value.trim()));
  }

  function renderFollowup() {
    if (!ui.followup) return;
    const f = fu.data;
    ui.followup.hidden = !f;
    if (!f) return;
    ui.followup.dataset.status = f.status;
    ui.followupLabel.textContent = f.provider_label ? `(${f.provider_label})` : "";
    ui.followupBody.textContent = f.body || (f.status === "streaming" ? "…" : "");
    ui.followupError.hidden = !f.error;
    ui.followupError.textContent = f.error ? f.error.message : "";
    if (!fu.dirty) ui.followupEditor.value = f.response.text;
    ui.followupEditor.disabled = state.closed;
    if (ui.followupStatus && !fu.dirty) ui.followupStatus.textContent = f.response.saved_at ? `saved ${new Date(Date.parse(f.response.saved_at) - clock.offset).toLocaleTimeString()}` : "";
  }

  /** A follow-up payload from the server replaces ours if it is the current question's. */
  function takeFollowup(f) {
    if (!f || !snap.question || f.question_id !== snap.question.id) return;
    const same = fu.data && fu.data.id === f.id;
    fu.data = f;
    if (!same) {
      fu.revision = f.response.revision;
      fu.dirty = false;
    } else fu.revision = Math.max(fu.revision, f.response.revision);
    fu.asking = false;
    renderFollowup();
    renderAsk();
  }

  /** A streamed piece of the follow-up, at a code-point `offset`; a gap asks for the whole text. */
  function followupDelta(data) {
    if (!fu.data || fu.data.id !== data.id || fu.data.status !== "streaming") return;
    const have = [...fu.data.body];
    if (data.offset > have.length) {
      socket.send({ type: "followup.text", ref: ref("ftext"), followup_id: data.id });
      return;
    }
    // An overlap (a delta already in a `followup.text`) rewrites the same code points.
    const merged = have.slice(0, data.offset).concat([...data.text]);
    if (merged.length >= have.length) fu.data.body = merged.join("");
    renderFollowup();
  }

  function saveFollowup() {
    if (!fu.dirty || state.closed || !fu.data) return;
    fu.revision += 1;
    const sent = socket.send({ type: "followup.save", ref: ref("fsave"), followup_id: fu.data.id, revision: fu.revision, text: ui.followupEditor.value });
    if (sent) {
      fu.dirty = false;
      if (ui.followupStatus) ui.followupStatus.textContent = "saving…";
    } else {
      fu.revision -= 1;
      if (ui.followupStatus) ui.followupStatus.textContent = "not saved yet (offline): kept here, sent on reconnect";
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
    const next = data.followup || null;
    if (!next || !fu.data || next.id !== fu.data.id) {
      fu.dirty = false;
      fu.data = next;
      fu.revision = next ? next.response.revision : 0;
    } else {
      fu.data = next;
      fu.revision = Math.max(fu.revision, next.response.revision);
    }
    renderFollowup();
    renderAsk();
  }

  function open(position) {
    if (state.closed || position < 1 || position > snap.session.question_total) return;
    save();
    saveFollowup();
    state.dirty = false;
    socket.send({ type: "question.open", ref: ref("open"), position });
  }

  const socket = connect(cfg.socket, {
    onSnapshot: (frame) => {
      const data = frame.data;
      clock.sync(data.session.deadline, data.session.server_now);
      if (data.session.state !== "in_progress") setClosed("This interview is over: your last autosaved answers count.");
      const pending = state.dirty && data.question && snap.question && data.question.id === snap.question.id;
      const fpending = fu.dirty && fu.data && data.followup && data.followup.id === fu.data.id;
      render(data);
      if (pending) save(); // text typed while offline goes out now
      if (fpending) {
        fu.dirty = true;
        saveFollowup();
      }
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
        window.location.assign(cfg.report_url); // the report page follows the grading live
      } else if (frame.event === "answer.saved") {
        const step = ui.progress.querySelector(`[data-position="${data.position}"]`);
        if (step) step.classList.add("answered");
        if (snap.question && data.question_id === snap.question.id) {
          state.revision = Math.max(state.revision, data.revision);
          renderAsk();
        }
      } else if (frame.event === "followup.started" || frame.event === "followup.done") {
        takeFollowup(data.followup);
      } else if (frame.event === "followup.delta") {
        followupDelta(data);
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
        window.location.assign(cfg.report_url);
      } else if (frame.type === "ack" && kind === "ask") {
        fu.asking = false;
        renderAsk();
      } else if (frame.type === "ack" && kind === "fsave" && frame.duplicate) {
        fu.revision = Math.max(fu.revision, frame.revision);
        fu.dirty = true;
      } else if (frame.type === "ack" && kind === "fsave") {
        if (ui.followupStatus) ui.followupStatus.textContent = `saved ${new Date(Date.parse(frame.saved_at) - clock.offset).toLocaleTimeString()}`;
      } else if (frame.type === "followup.text") {
        if (fu.data && fu.data.id === frame.id) {
          fu.data.body = frame.text;
          fu.data.status = frame.status;
          renderFollowup();
        }
      } else if (frame.type === "question") {
        clock.sync(frame.session.deadline, frame.session.server_now);
        state.dirty = false;
        render(frame);
      }
    },
    onError: (frame) => {
      const kind = frame.ref ? state.refs.get(frame.ref) : undefined;
      if (frame.ref) state.refs.delete(frame.ref);
      if (kind === "ask") {
        fu.asking = false;
        renderAsk();
      }
      if ((kind === "fsave" || kind === "ask") && ui.followupStatus && !["deadline_passed", "session_closed"].includes(frame.code)) {
        if (kind === "fsave") ui.followupStatus.textContent = frame.message;
        else if (ui.askNote) ui.askNote.textContent = frame.message;
        return;
      }
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
  window.setInterval(() => {
    save();
    saveFollowup();
  }, AUTOSAVE_MS);
  if (ui.ask) {
    ui.ask.addEventListener("click", () => {
      if (state.closed || !snap.question || fu.data) return;
      save(); // the interviewer follows up on the saved answer: send the latest first
      fu.asking = true;
      renderAsk();
      socket.send({ type: "followup.request", ref: ref("ask"), question_id: snap.question.id });
    });
  }
  if (ui.followupEditor) {
    ui.followupEditor.addEventListener("input", () => {
      fu.dirty = true;
      if (ui.followupStatus) ui.followupStatus.textContent = "editing…";
    });
    ui.followupEditor.addEventListener("blur", saveFollowup);
  }
  ui.editor.addEventListener("input", renderAsk);
  renderFollowup();
  renderAsk();
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

  // The AI interviewer's follow-ups and the candidate's responses, by follow-up id. The socket
  // streams the questions (`followup.started`, `.delta`, `.done`); `followup.saved` carries no
  // text, so the page reloads the follow-ups (JSON) to show the saved response.
  const list = $("[data-followups]");
  const empty = $("[data-followups-empty]");
  const questions = new Map((cfg.questions || []).map((q) => [q.id, q]));
  const followups = new Map();
  const load = { busy: false, again: false };
  let socket = null;

  const at = (moment) => new Date(Date.parse(moment) - clock.offset).toLocaleTimeString();

  /** The follow-up's list item: the server-rendered one, else a new one in question order. */
  function item(f) {
    let node = list.querySelector(`[data-followup-id="${f.id}"]`);
    if (node) return node;
    node = document.createElement("li");
    node.className = "card question followup";
    node.dataset.followupId = String(f.id);
    node.dataset.questionId = String(f.question_id);
    const part = (tag, name, className) => {
      const child = document.createElement(tag);
      child.setAttribute(name, "");
      if (className) child.className = className;
      return child;
    };
    const head = document.createElement("p");
    head.className = "followup-head";
    const title = document.createElement("strong");
    title.append("Question ", part("span", "data-followup-position"));
    head.append(title, ": ", part("span", "data-followup-prompt", "prompt"));
    const asks = document.createElement("p");
    const asksTitle = document.createElement("strong");
    asksTitle.textContent = "The interviewer asks";
    asks.append(asksTitle, " ", part("span", "data-followup-label", "muted"), " ", part("span", "data-followup-status", "muted"));
    const error = part("p", "data-followup-error", "muted");
    error.hidden = true;
    const responds = document.createElement("p");
    const respondsTitle = document.createElement("strong");
    respondsTitle.textContent = "The candidate's response";
    responds.append(respondsTitle, " ", part("span", "data-followup-saved", "muted"));
    node.append(head, asks, part("p", "data-followup-body", "prompt followup-question"), error, responds, part("p", "data-followup-response", "prompt followup-response"));
    const position = positionOf(f);
    const after = [...list.children].find((other) => positionOf({ question_id: Number(other.dataset.questionId), position: 0 }) > position);
    list.insertBefore(node, after || null);
    return node;
  }

  function positionOf(f) {
    const question = questions.get(f.question_id);
    return question ? question.position : f.position;
  }

  function draw(f) {
    if (!list) return;
    const node = item(f);
    const text = (name, value) => {
      const child = node.querySelector(`[${name}]`);
      if (child) child.textContent = value;
    };
    const question = questions.get(f.question_id);
    node.dataset.status = f.status;
    text("data-followup-position", String(positionOf(f)));
    if (question) text("data-followup-prompt", question.prompt);
    text("data-followup-label", f.provider_label ? `(${f.provider_label})` : "");
    text("data-followup-status", f.status === "streaming" ? "streaming…" : f.status === "complete" ? "" : f.status);
    text("data-followup-body", f.body);
    const error = node.querySelector("[data-followup-error]");
    if (error) {
      error.hidden = !f.error;
      error.textContent = f.error ? f.error.message : "";
    }
    text("data-followup-saved", f.response.revision ? `revision ${f.response.revision}, saved ${at(f.response.saved_at)}` : "nothing saved yet");
    text("data-followup-response", f.response.text);
    if (empty) empty.hidden = true;
  }

  /** A follow-up from the server (an event, a snapshot or a reload): never go back to an older
   * state of it (a reload answered after `followup.done`, a response revision already shown). */
  function take(f) {
    if (!f) return;
    const old = followups.get(f.id);
    let next = { ...f };
    if (old) {
      if (old.status !== "streaming" && f.status === "streaming") next = { ...next, status: old.status, body: old.body, error: old.error };
      else if (old.status === "streaming" && f.status === "streaming" && [...old.body].length > [...f.body].length) next.body = old.body;
      if (old.response.revision > f.response.revision) next.response = old.response;
    }
    followups.set(f.id, next);
    draw(next);
  }

  /** Reload every follow-up (one request at a time; events during one ask for one more). */
  async function reload() {
    if (!cfg.followups_url) return;
    if (load.busy) {
      load.again = true;
      return;
    }
    load.busy = true;
    try {
      const response = await fetch(cfg.followups_url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) for (const f of (await response.json()).followups) take(f);
    } catch {
      // offline: the next event, or the reconnect's snapshot, reloads
    } finally {
      load.busy = false;
      if (load.again) {
        load.again = false;
        reload();
      }
    }
  }

  /** A streamed piece of a follow-up at a code-point `offset`; a gap asks for the whole text. */
  function delta(data) {
    const f = followups.get(data.id);
    if (!f) return void reload(); // started before we knew it: fetch it whole
    if (f.status !== "streaming") return;
    const have = [...f.body];
    if (data.offset > have.length) {
      if (socket) socket.send({ type: "followup.text", followup_id: data.id });
      return;
    }
    const merged = have.slice(0, data.offset).concat([...data.text]);
    if (merged.length >= have.length) f.body = merged.join("");
    draw(f);
  }

  for (const f of cfg.followups || []) followups.set(f.id, f);

  socket = connect(cfg.socket, {
    onSnapshot: (frame) => {
      const data = frame.data;
      clock.sync(data.session.deadline, data.session.server_now);
      set("[data-question-number]", data.session.position);
      set("[data-answered]", data.progress.filter((p) => p.answered).length);
      set("[data-session-state]", data.session.state);
      take(data.followup);
      reload(); // catch up with what happened before (or while away from) the socket
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
      } else if (frame.event === "followup.started" || frame.event === "followup.done") {
        take(data.followup);
      } else if (frame.event === "followup.delta") {
        delta(data);
      } else if (frame.event === "followup.saved") {
        const known = followups.get(data.followup_id);
        if (!known || known.response.revision < data.revision) reload();
      }
    },
    onMessage: (frame) => {
      if (frame.type === "clock") clock.sync(frame.deadline, frame.server_now);
      else if (frame.type === "followup.text") {
        const f = followups.get(frame.id);
        if (!f) return void reload();
        f.body = frame.text;
        f.status = frame.status;
        draw(f);
      }
    },
  });
}

// ------------------------------------------------------------------ grading, live on the report page
const READINESS = { ready: "Ready", almost_ready: "Almost ready", not_ready: "Not ready yet" };

function startReport(root) {
  const cfg = config("report-live-config");
  if (!cfg) return;
  const $ = (selector) => root.querySelector(selector);
  const status = $("[data-grading-status]");
  const list = $("[data-grading-answers]");
  const done = $("[data-grading-report]");
  const scored = new Map(); // answer_id -> the `answer.scored` payload
  let total = 0;
  let graded = false;

  function line(answer) {
    let item = list.querySelector(`[data-answer-id="${answer.answer_id}"]`);
    if (!item) {
      item = document.createElement("li");
      item.className = "card";
      item.dataset.answerId = String(answer.answer_id);
      item.dataset.position = String(answer.position);
      const after = [...list.children].find((node) => Number(node.dataset.position) > answer.position);
      list.insertBefore(item, after || null);
    }
    item.dataset.band = answer.band;
    const head = document.createElement("p");
    const score = document.createElement("strong");
    score.dataset.answerScore = "";
    score.textContent = `${answer.score}/100`;
    head.append(`${answer.position}. `, score, ` · ${answer.band}${answer.offline ? " · offline evaluator" : ""}`);
    const explanation = document.createElement("p");
    explanation.textContent = answer.explanation;
    item.replaceChildren(head, explanation);
    if (answer.tip) {
      const tip = document.createElement("p");
      tip.textContent = `Tip: ${answer.tip}`;
      item.append(tip);
    }
  }

  function progress() {
    if (graded) status.textContent = "Scored: your report is ready.";
    else status.textContent = total ? `Scoring ${Math.min(scored.size + 1, total)} of ${total}…` : "Scoring…";
    status.dataset.scored = String(scored.size);
  }

  function report(payload) {
    graded = true;
    root.dataset.state = "graded";
    $("[data-live-overall]").textContent = String(payload.overall);
    $("[data-live-readiness]").textContent = READINESS[payload.readiness] || payload.readiness;
    const reasons = $("[data-live-reasons]");
    reasons.replaceChildren(
      ...payload.reasons.map((reason) => {
        const item = document.createElement("li");
        item.textContent = reason;
        return item;
      }),
    );
    done.hidden = false;
    progress();
    showReport();
  }

  // Graded: the page becomes the stored report, as a reload would show it (the server's rendering of
  // `report_url`: the scores, every answer, the PDF link and a watcher's override forms). Until that
  // arrives, or if it fails, the live summary above and its "Open the full report" link stay.
  let replacing = false;
  async function showReport() {
    if (replacing) return;
    replacing = true;
    try {
      const response = await fetch(cfg.report_url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(`report page: ${response.status}`);
      // Inert parsing (scripts never run); the markup is our own template's, escaped by Django.
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const main = fresh.getElementById("main");
      const here = document.getElementById("main");
      if (!main || !here || !main.querySelector("[data-report]")) throw new Error("report page: not graded yet");
      // The socket stays open: it carries this person's own stream too (personalEvent).
      document.title = fresh.title;
      here.replaceChildren(...Array.from(main.childNodes));
    } catch (error) {
      replacing = false; // the next graded frame (a resume's snapshot) tries again
      console.warn(error);
    }
  }

  function take(answer) {
    scored.set(answer.answer_id, answer);
    line(answer);
    progress();
  }

  connect(cfg.socket, {
    onSnapshot: (frame) => {
      const grading = frame.data.grading;
      if (!grading) return;
      total = grading.total;
      for (const answer of grading.answers) take(answer);
      if (grading.report) report(grading.report);
      progress();
    },
    onEvent: (frame) => {
      if (frame.stream && frame.stream.startsWith("user.")) return personalEvent(frame);
      const data = frame.data || {};
      if (frame.event === "answer.scored") take(data.answer);
      else if (frame.event === "session.graded") report(data.report);
    },
  });
}

const check = document.querySelector("[data-interview-check]");
if (check) startCheck(check);
const room = document.querySelector("[data-interview-room]");
if (room) startRoom(room);
const watch = document.querySelector("[data-interview-watch]");
if (watch) startWatch(watch);
const live = document.querySelector("[data-report-live]");
if (live) startReport(live);
