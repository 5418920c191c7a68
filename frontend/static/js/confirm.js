// Confirm a destructive action in a modal <dialog> before it happens. A form with
// data-confirm="Question?" (and data-confirm-help, data-confirm-ok for the button's label) submits
// only after OK; `confirmAction` asks the same from a module. No inline script (the CSP forbids
// it): without script the form simply submits. Text reaches the page through textContent.

import { el } from "./stream_text.js";

/** @type {HTMLDialogElement|null} */
let dialog = null;

function theDialog() {
  if (dialog) return dialog;
  dialog = /** @type {HTMLDialogElement} */ (
    el(
      "dialog",
      { class: "confirm-dialog", "data-confirm-dialog": true, "aria-labelledby": "confirm-dialog-title", "aria-describedby": "confirm-dialog-help" },
      el("h2", { id: "confirm-dialog-title", "data-confirm-title": true }),
      el("p", { id: "confirm-dialog-help", class: "muted", "data-confirm-help": true }),
      el(
        "p",
        { class: "dialog-buttons" },
        el("button", { type: "button", class: "secondary", "data-confirm-cancel": true, text: "Cancel" }),
        el("button", { type: "button", class: "danger", "data-confirm-ok": true, text: "OK" }),
      ),
    )
  );
  document.body.append(dialog);
  return dialog;
}

/**
 * Ask before a destructive action; resolves true on OK, false on Cancel or Escape. Focus starts on
 * Cancel (the safe choice) and returns to where it was.
 * @param {{title: string, help?: string, ok?: string}} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, help = "", ok = "OK" }) {
  const box = theDialog();
  const opener = document.activeElement;
  const helpNode = box.querySelector("[data-confirm-help]");
  const okButton = box.querySelector("[data-confirm-ok]");
  const cancelButton = box.querySelector("[data-confirm-cancel]");
  box.querySelector("[data-confirm-title]").textContent = title;
  helpNode.textContent = help;
  helpNode.hidden = !help;
  okButton.textContent = ok;
  return new Promise((resolve) => {
    const finish = (answer) => {
      okButton.removeEventListener("click", onOk);
      cancelButton.removeEventListener("click", onCancel);
      box.removeEventListener("cancel", onEscape);
      if (box.open) box.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(answer);
    };
    const onOk = () => finish(true);
    const onCancel = () => finish(false);
    const onEscape = (event) => {
      event.preventDefault();
      finish(false);
    };
    okButton.addEventListener("click", onOk);
    cancelButton.addEventListener("click", onCancel);
    box.addEventListener("cancel", onEscape);
    box.showModal();
    cancelButton.focus();
  });
}

// Forms marked data-confirm: the first submit asks; OK submits again, for real.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
  if (form.dataset.confirmed === "yes") {
    delete form.dataset.confirmed;
    return;
  }
  event.preventDefault();
  const submitter = event.submitter instanceof HTMLElement ? event.submitter : null;
  const confirmed = await confirmAction({ title: form.dataset.confirm, help: form.dataset.confirmHelp || "", ok: form.dataset.confirmOk || "OK" });
  if (!confirmed) return;
  form.dataset.confirmed = "yes";
  form.requestSubmit(submitter);
});
