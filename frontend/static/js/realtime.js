// Coachwire realtime client: one websocket per stream page, resumable by seq.
// Protocol: docs/realtime-protocol.md (snapshot, event, resume/resumed, resync, force_close,
// rights_changed, error; close codes 4401/4404/4409/4413/4415/4429). No dependencies, no build step.

/** The protocol version this page was built for; a snapshot with another `v` reloads the page. */
export const PROTOCOL_VERSION = 1;

// Any other close (4413 too big, 4415 binary, 4429 rate limited, a dropped connection) reconnects
// with backoff: the frame that caused it is not sent again, and resume repairs what was missed.
const CLOSE = { NO_SESSION: 4401, NOT_FOUND: 4404, ORGANISATION_CHANGED: 4409 };

const LABELS = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
};

/**
 * @typedef {Object} Frame
 * @property {string} type
 * @property {string} [stream]
 * @property {number} [seq]
 * @property {string} [event]
 * @property {Object} [data]
 * @property {Object<string, number>} [cursors]
 * @property {number} [v]
 * @property {number} [heartbeat]
 * @property {number} [code]
 * @property {string} [reason]
 */

/**
 * @typedef {Object} Handlers
 * @property {(frame: Frame, info: {resync: boolean}) => void} [onSnapshot]
 *   State to replace wholesale: a first `snapshot`, or a `resync` after a cursor got too old.
 * @property {(frame: Frame) => void} [onEvent]
 *   A durable event (applied strictly in `seq` order) or an ephemeral one (no `seq`).
 * @property {(frame: Frame) => void} [onResumed] The server finished replaying a stream.
 * @property {(frame: Frame) => void} [onRightsChanged] What this user may do changed.
 * @property {(frame: Frame) => void} [onError] An `error` frame (bad message, rate limited…).
 * @property {(frame: Frame) => void} [onMessage] Any other frame (echo, pong, feature frames).
 * @property {(state: string) => void} [onState] connecting | live | reconnecting | offline.
 */

/**
 * @typedef {Object} Options
 * @property {number} [version=PROTOCOL_VERSION] Protocol version the page expects.
 * @property {string} [loginUrl="/accounts/login/"] Where a 4401 sends the browser.
 * @property {number} [baseDelayMs=500] First reconnect delay bound.
 * @property {number} [maxDelayMs=30000] Cap of the reconnect delay bound.
 * @property {Document|Element} [statusRoot=document] Where to find `[data-conn-status]`.
 */

/**
 * A self-healing websocket to one path on this origin.
 *
 * - Reconnects with exponential backoff and full jitter: delay = random(0, min(cap, base·2^n)).
 * - Tracks `last_seq` per stream from the snapshot's `cursors`; applies durable events only when
 *   `seq == last + 1`, buffers later ones and asks the server to `resume` from `last`.
 * - Reconnects with `?resume=stream:seq,...`, so only the missed events come back.
 * - Sends `{"type":"ping"}` every `heartbeat` seconds and drops a socket that stays silent.
 */
export class RealtimeSocket {
  /**
   * @param {string} path A same-origin websocket path, e.g. "/ws/me/".
   * @param {Handlers} [handlers]
   * @param {Options} [options]
   */
  constructor(path, handlers = {}, options = {}) {
    this.path = path;
    this.handlers = handlers;
    this.options = {
      version: PROTOCOL_VERSION,
      loginUrl: "/accounts/login/",
      baseDelayMs: 500,
      maxDelayMs: 30000,
      statusRoot: document,
      ...options,
    };
    /** @type {Object<string, number>} the last applied seq per stream */
    this.cursors = {};
    /** @type {Object<string, Map<number, Frame>>} events that arrived ahead of a gap */
    this.pending = {};
    /** @type {Set<string>} streams with a resume request in flight */
    this.resuming = new Set();
    /** @type {WebSocket|null} */
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.state = "";
    this.retryTimer = 0;
    this.heartbeatTimer = 0;
    this.lastHeard = 0;
    this._onOnline = () => this._reconnectNow();
    this._onOffline = () => this._setState("offline");
  }

  /** Open the socket (once); later reconnects happen on their own. */
  start() {
    window.addEventListener("online", this._onOnline);
    window.addEventListener("offline", this._onOffline);
    this._open();
    return this;
  }

  /** Close for good: no reconnect. */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    clearTimeout(this.retryTimer);
    this._stopHeartbeat();
    if (this.ws) this.ws.close(1000);
    this._setState("offline");
  }

  /**
   * Forget the cursors and reconnect for a fresh `snapshot`: for state that the events cannot
   * rebuild on this client (e.g. a message restored by a moderator, whose text it never had).
   */
  refresh() {
    if (this.stopped) return;
    const old = this.ws;
    this.ws = null; // its close event is ignored
    this._stopHeartbeat();
    clearTimeout(this.retryTimer);
    this.cursors = {};
    this.attempt = 0;
    old?.close(1000);
    this._open();
  }

  /**
   * Send a JSON frame if the socket is open.
   * @param {Object} frame
   * @returns {boolean} whether it was sent
   */
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // ------------------------------------------------------------------ connection
  _url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const streams = Object.keys(this.cursors);
    const query = streams.length
      ? "?resume=" + streams.map((s) => `${encodeURIComponent(s)}:${this.cursors[s]}`).join(",")
      : "";
    return `${scheme}//${location.host}${this.path}${query}`;
  }

  _open() {
    if (this.stopped) return;
    this._setState(this.attempt === 0 && !Object.keys(this.cursors).length ? "connecting" : "reconnecting");
    const ws = new WebSocket(this._url());
    this.ws = ws;
    this.pending = {};
    this.resuming.clear();
    ws.onmessage = (message) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this._dispatch(frame);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this._stopHeartbeat();
      this._closed(event.code);
    };
  }

  /** @param {number} code */
  _closed(code) {
    if (this.stopped) return;
    if (code === CLOSE.NO_SESSION) return this._toLogin();
    if (code === CLOSE.ORGANISATION_CHANGED) return this._reload();
    if (code === CLOSE.NOT_FOUND) {
      this.stop();
      return;
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    this._setState(navigator.onLine === false ? "offline" : "reconnecting");
    const bound = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this._open(), Math.random() * bound); // full jitter
  }

  _reconnectNow() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.retryTimer);
    this._open();
  }

  _toLogin() {
    this.stop();
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`${this.options.loginUrl}?next=${next}`);
  }

  _reload() {
    this.stop();
    location.reload();
  }

  // ------------------------------------------------------------------ frames
  /** @param {Frame} frame */
  _dispatch(frame) {
    switch (frame.type) {
      case "snapshot":
      case "resync":
        return this._snapshot(frame);
      case "event":
        return this._event(frame);
      case "resumed":
        return this._resumed(frame);
      case "force_close":
        if (frame.code === CLOSE.NO_SESSION) return this._toLogin();
        if (frame.code === CLOSE.ORGANISATION_CHANGED) return this._reload();
        if (frame.code === CLOSE.NOT_FOUND) return this.stop();
        return; // the close that follows decides
      case "rights_changed":
        return this.handlers.onRightsChanged?.(frame);
      case "error":
        return this.handlers.onError?.(frame);
      case "pong":
        return;
      default:
        return this.handlers.onMessage?.(frame);
    }
  }

  /** @param {Frame} frame */
  _snapshot(frame) {
    if (frame.v !== this.options.version) return this._reload(); // built for another protocol
    this.cursors = { ...this.cursors, ...(frame.cursors || {}) };
    this.pending = {};
    this.resuming.clear();
    this._live(frame.heartbeat);
    this.handlers.onSnapshot?.(frame, { resync: frame.type === "resync" });
  }

  /** @param {Frame} frame */
  _resumed(frame) {
    this.resuming.delete(frame.stream);
    this._live();
    this._drain(frame.stream);
    this.handlers.onResumed?.(frame);
  }

  /** @param {Frame} frame */
  _event(frame) {
    if (typeof frame.seq !== "number") return this.handlers.onEvent?.(frame); // ephemeral
    const last = this.cursors[frame.stream];
    if (last === undefined || frame.seq <= last) return; // not followed yet, or a duplicate
    if (frame.seq === last + 1) {
      this._apply(frame);
      this._drain(frame.stream);
      return;
    }
    // A gap: keep what came early and ask for what is missing, once.
    const early = (this.pending[frame.stream] ||= new Map());
    early.set(frame.seq, frame);
    if (!this.resuming.has(frame.stream)) {
      this.resuming.add(frame.stream);
      this.send({ type: "resume", cursors: { [frame.stream]: last } });
    }
  }

  /** @param {Frame} frame */
  _apply(frame) {
    this.cursors[frame.stream] = frame.seq;
    this.handlers.onEvent?.(frame);
  }

  /** @param {string} stream */
  _drain(stream) {
    const early = this.pending[stream];
    if (!early) return;
    for (let next = this.cursors[stream] + 1; early.has(next); next++) {
      const frame = early.get(next);
      early.delete(next);
      this._apply(frame);
    }
    for (const seq of early.keys()) if (seq <= this.cursors[stream]) early.delete(seq);
  }

  // ------------------------------------------------------------------ liveness
  /** @param {number} [heartbeatSeconds] */
  _live(heartbeatSeconds) {
    this.attempt = 0;
    this._setState("live");
    if (heartbeatSeconds) this.heartbeatSeconds = heartbeatSeconds;
    if (!this.heartbeatTimer && this.heartbeatSeconds) {
      this.lastHeard = Date.now();
      const every = this.heartbeatSeconds * 1000;
      this.heartbeatTimer = setInterval(() => {
        // Silent for more than two beats (our pings get pongs): the socket is dead, replace it.
        if (Date.now() - this.lastHeard > every * 2.5) {
          const dead = this.ws;
          this.ws = null; // its close event, whenever it comes, is ignored
          dead?.close(4000);
          this._stopHeartbeat();
          this._scheduleReconnect();
          return;
        }
        this.send({ type: "ping" });
      }, every);
    }
  }

  _stopHeartbeat() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = 0;
  }

  /** @param {string} state */
  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    for (const el of this.options.statusRoot.querySelectorAll("[data-conn-status]")) {
      el.dataset.state = state;
      const label = el.querySelector(".label");
      if (label) label.textContent = LABELS[state] || state;
      el.title = `Live connection: ${LABELS[state] || state}`;
    }
    this.handlers.onState?.(state);
  }
}

/**
 * Open a RealtimeSocket to `path` and start it.
 * @param {string} path
 * @param {Handlers} [handlers]
 * @param {Options} [options]
 * @returns {RealtimeSocket}
 */
export function connect(path, handlers = {}, options = {}) {
  return new RealtimeSocket(path, handlers, options).start();
}
