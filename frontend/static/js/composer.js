// The composer of the chat pages: the counter of characters left (the cap is in UTF-8 bytes),
// Enter to send (Shift+Enter for a new
// line), a pending placeholder per post until its ack, the posts that wait for the connection and
// go again after a reconnect, and the text put back into the box when the server refuses a post.
// Protocol: docs/realtime-protocol.md (message.post). Text reaches the page through textContent.

import { el, utf8Bytes, uuid } from "./stream_text.js";

/**
 * @typedef {{body: string, el: HTMLElement, fields?: Object}} Post a post awaiting its ack
 */

/**
 * Wire up a composer form.
 * @param {{
 *   ui: {composer: HTMLFormElement, body: HTMLTextAreaElement, bytes: HTMLElement, error: HTMLElement},
 *   log: {list: HTMLElement, renderEmpty: () => void, scrollToBottom: (force?: boolean) => void},
 *   socket: {send: (frame: Object) => boolean},
 *   maxBytes: number,
 *   author: string,
 *   refuse?: () => string|boolean|null|undefined,
 *   onEmpty?: (options: any) => boolean,
 *   extra?: (options: any) => Object,
 *   onInput?: () => void,
 * }} options `author` names the person on pending posts; `refuse` says why nothing can be sent
 *   now (`true`: refused, and the page already shows why); `onEmpty` handles a submit without
 *   text (true: handled); `extra` gives fields added to the post's `message.post` frame (sent
 *   again on a resend); `onInput` runs after each edit.
 */
export function createComposer({ ui, log, socket, maxBytes, author, refuse, onEmpty, extra, onInput }) {
  /** @type {Map<string, Post>} posts awaiting their ack, by client_msg_id */
  const outbox = new Map();

  // The cap counts UTF-8 bytes, which people do not read: the counter says characters, exactly for
  // plain letters, digits and punctuation (one byte each). Other characters take 2 to 4 bytes, so
  // once there are some the counter says so; `title` states the exact limit and use.
  function updateBytes() {
    const text = ui.body.value.trim();
    const size = utf8Bytes(text);
    const left = maxBytes - size;
    const wide = size > text.length;
    const plural = (n) => (n === 1 ? "" : "s");
    let shown = left >= 0 ? `${left} character${plural(left)} left` : `${-left} character${plural(-left)} too many`;
    if (wide) shown += " (accented letters and emoji count as 2 to 4)";
    ui.bytes.textContent = shown;
    ui.bytes.title = `At most ${maxBytes} bytes of UTF-8 text; this is ${size}.`;
    ui.bytes.classList.toggle("over", left < 0);
    ui.body.setAttribute("aria-invalid", String(left < 0));
  }

  /** @param {string} text */
  function showError(text) {
    ui.error.textContent = text;
  }

  /** @param {any} [options] passed on to `onEmpty` and `extra` */
  function submit(options = {}) {
    const text = ui.body.value.trim();
    const refusal = refuse?.();
    if (refusal) {
      // `true`: the page already shows why (the composer's status line), so it is not said twice.
      showError(refusal === true ? "" : refusal);
      return;
    }
    if (!text) {
      if (onEmpty?.(options)) return;
      showError("Write something first.");
      ui.body.focus();
      return;
    }
    const size = utf8Bytes(text);
    if (size > maxBytes) {
      showError(
        `Too long to send: a message is at most ${maxBytes} bytes of UTF-8 text (a plain letter takes 1, an accented letter 2, an emoji 4) and this one takes ${size}. Shorten it and try again; your text is still here.`,
      );
      ui.body.focus();
      return;
    }
    showError("");
    const clientMsgId = uuid();
    const item = el(
      "li",
      { class: "msg msg-user msg-mine msg-pending", dataset: { pending: clientMsgId, pendingState: "sending" } },
      el("p", { class: "msg-head" }, el("span", { class: "msg-author", text: author }), el("span", { class: "badge", text: "you" }), el("span", { class: "muted", "data-pending-note": true, text: "Sending…" })),
      el("div", { class: "msg-body", text }),
    );
    log.list.append(item);
    log.renderEmpty();
    log.scrollToBottom(true);
    outbox.set(clientMsgId, { body: text, el: item, fields: extra?.(options) });
    ui.body.value = "";
    updateBytes();
    if (!sendPost(clientMsgId)) setNote(item, "waiting", "Waiting for the connection…");
  }

  function setNote(item, pendingState, text) {
    item.dataset.pendingState = pendingState;
    item.querySelector("[data-pending-note]").textContent = text;
  }

  function sendPost(clientMsgId) {
    const item = outbox.get(clientMsgId);
    if (!item) return false;
    const frame = { type: "message.post", client_msg_id: clientMsgId, body: item.body, ref: clientMsgId };
    return socket.send({ ...frame, ...(item.fields || {}) });
  }

  /** Unacknowledged posts go again after a reconnect: the client_msg_id makes a repeat harmless. */
  function resend() {
    for (const [clientMsgId, item] of outbox) {
      if (item.el.dataset.pendingState === "sent") continue;
      if (sendPost(clientMsgId)) setNote(item.el, "sending", "Sending…");
    }
  }

  /**
   * The ack of the post `clientMsgId`: its placeholder goes when the message is already shown
   * (`known`), else it says "Sent" until the message arrives.
   * @returns {Post|undefined} the post, or undefined when the ack is not for a post of ours
   */
  function acknowledge(clientMsgId, known) {
    const item = outbox.get(clientMsgId);
    if (!item) return undefined;
    outbox.delete(clientMsgId);
    if (known) item.el.remove();
    else setNote(item.el, "sent", "Sent");
    return item;
  }

  /**
   * The server refused the post `ref`: nothing the person wrote is lost, the text goes back into
   * the composer, above what they wrote since, and `text` says why.
   * @returns {boolean} whether `ref` was a post of ours
   */
  function restore(ref, text) {
    const item = ref ? outbox.get(ref) : undefined;
    if (!item) return false;
    outbox.delete(ref);
    item.el.remove();
    const current = ui.body.value;
    ui.body.value = current.trim() ? `${item.body}\n\n${current}` : item.body;
    updateBytes();
    showError(text);
    log.renderEmpty();
    return true;
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
    onInput?.();
  });

  return { outbox, updateBytes, showError, submit, resend, acknowledge, restore };
}
