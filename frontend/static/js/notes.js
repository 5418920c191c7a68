// The note form: a byte counter for the body (the limit counts UTF-8 bytes, as the server does)
// and focus on the error summary after a refused save. The preview itself is htmx (hx-post).
// The note page opened from a citation: the highlighted passage is scrolled into view.

const form = document.querySelector("[data-note-form]");

if (form) {
  const body = form.querySelector("[data-note-body]");
  const bytes = form.querySelector("[data-note-bytes]");
  const max = Number(body?.dataset.maxBytes || 0);
  const encoder = new TextEncoder();

  const update = () => {
    if (!body || !bytes || !max) return;
    const size = encoder.encode(body.value).length;
    bytes.textContent = `${size.toLocaleString()} / ${max.toLocaleString()} bytes${size > max ? " (too long)" : ""}`;
    bytes.classList.toggle("error", size > max);
  };
  body?.addEventListener("input", update);
  update();

  form.querySelector("[data-form-errors]")?.focus();
}

const cited = document.querySelector("[data-note-body] [data-cited-mark]");
if (cited && !window.location.hash) {
  const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  cited.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
}
