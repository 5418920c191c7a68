// Shared pieces of the streaming chat pages (a lounge room, a coach thread): building elements,
// ids, sizes, applying coach deltas by code-point offset, and citations. The chat machinery built
// on them (socket, log, composer, coach streams) is in chat_common.js and composer.js.
// Server text only ever reaches the page through textContent (or inert parsing, for snippets).

/**
 * Build an element: el("button", {type: "button", class: "x", dataset: {id: 1}, onclick}, "text", child)
 * @param {string} tag
 * @param {Object} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

/** A random id for client_msg_id / request_id (crypto.randomUUID needs a secure context). */
export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const encoder = new TextEncoder();
/** @param {string} text */
export const utf8Bytes = (text) => encoder.encode(text).length;
/** Length in Unicode code points (the server's offsets count code points, JS strings UTF-16 units). */
export const codePoints = (text) => Array.from(text).length;

/** @param {string} iso */
export function clock(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? "" : when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * The live text of one streaming message. Deltas carry an offset in code points; one that starts
 * past what we hold is a gap (ask the server for the text so far), one we already hold is skipped.
 */
export class StreamText {
  /** @param {string} [text] */
  constructor(text = "") {
    this.text = text;
    this.length = codePoints(text);
  }

  /**
   * @param {{offset: number, text: string}} delta
   * @returns {"applied"|"duplicate"|"gap"}
   */
  apply(delta) {
    if (delta.offset > this.length) return "gap";
    const pieces = Array.from(delta.text || "");
    const overlap = this.length - delta.offset;
    if (overlap >= pieces.length) return "duplicate";
    this.text += pieces.slice(overlap).join("");
    this.length += pieces.length - overlap;
    return "applied";
  }

  /**
   * The whole text so far (a `coach.text` answer); ignored when we already hold more.
   * @param {string} text
   * @returns {boolean} whether it was taken
   */
  replace(text) {
    const length = codePoints(text || "");
    if (length < this.length) return false;
    this.text = text || "";
    this.length = length;
    return true;
  }
}

// ------------------------------------------------------------------------------------ citations
// Browsers read a backslash as "/" in http(s) URLs and drop tabs and newlines anywhere in them, so
// "/" + "\\evil.com" and "/" + tab + "/evil.com" both lead to //evil.com: refuse such characters.
const UNSAFE_PATH_CHARS = /[\\\u0000-\u001f\u007f]/;

/**
 * A same-origin path that is safe as an href, or null: it starts with one "/" (not "//", which
 * is another host), and holds no backslash or control character a browser would rewrite.
 * The one check for every page (app.js imports it).
 * @param {unknown} url
 * @returns {string|null}
 */
export function safePath(url) {
  if (typeof url !== "string" || !url.startsWith("/") || url.startsWith("//")) return null;
  return UNSAFE_PATH_CHARS.test(url) ? null : url;
}

const NOTE_SOURCE = /^note:(\d+)#(\d+)-(\d+)$/;

/**
 * Where a citation leads: its `url` when same-origin, else the note passage named by `source`
 * ("note:<id>#<start>-<end>"), else nowhere.
 * @param {{url?: string, source?: string}} citation
 * @returns {string|null}
 */
export function citationHref(citation) {
  const direct = safePath(citation.url);
  if (direct) return direct;
  const match = NOTE_SOURCE.exec(citation.source || "");
  return match ? `/notes/${match[1]}/?passage=${match[2]}-${match[3]}` : null;
}

/**
 * A snippet's nodes: plain text, or the server's escaped text with <mark> around matches. It is
 * parsed inertly (DOMParser runs no script and loads nothing) and only text and <mark> survive.
 * @param {string} snippet
 * @returns {Node[]}
 */
export function snippetNodes(snippet) {
  const text = String(snippet || "");
  if (!/<mark>|&(?:amp|lt|gt|quot|#x27|#39);/.test(text)) return [document.createTextNode(text)];
  const parsed = new DOMParser().parseFromString(`<body>${text}</body>`, "text/html");
  const nodes = [];
  for (const node of parsed.body.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) nodes.push(document.createTextNode(node.textContent || ""));
    else if (node.nodeName === "MARK") nodes.push(el("mark", { text: node.textContent || "" }));
    else nodes.push(document.createTextNode(node.textContent || ""));
  }
  return nodes;
}

/** @param {string} prefix @param {number} n */
const citeId = (prefix, n) => `${prefix}-cite-${n}`;

/**
 * The numbered list of sources under a coach answer.
 * @param {Array<{n: number, title?: string, heading?: string, snippet?: string, url?: string, source?: string}>} citations
 * @param {string} prefix unique per message, for the anchors that inline [n] references point to
 * @returns {HTMLElement|null}
 */
export function renderCitations(citations, prefix) {
  if (!Array.isArray(citations) || !citations.length) return null;
  const headingId = `${prefix}-sources`;
  const list = el("ol", { class: "citations-list" });
  for (const citation of citations) {
    const href = citationHref(citation);
    const title = citation.title || "A note";
    const label = citation.heading && citation.heading !== citation.title ? `${title} › ${citation.heading}` : title;
    const name = href ? el("a", { href, class: "citation-link", text: label }) : el("span", { class: "citation-title", text: label });
    const item = el(
      "li",
      { id: citeId(prefix, citation.n), value: String(citation.n), dataset: { citation: String(citation.n) }, tabindex: "-1" },
      name,
    );
    if (citation.snippet) item.append(el("p", { class: "citation-snippet" }, ...snippetNodes(citation.snippet)));
    list.append(item);
  }
  return el(
    "section",
    { class: "citations", "aria-labelledby": headingId, "data-citations": true },
    el("h3", { id: headingId, class: "citations-title", text: "Sources" }),
    list,
  );
}

const REF = /\[(\d{1,3})\]/g;
const HAS_REF = /\[\d{1,3}\]/;

/**
 * Turn "[n]" in the rendered answer into links to the matching source, by walking text nodes
 * (never by rewriting HTML). References inside links and code are left alone.
 * @param {HTMLElement} body
 * @param {Array<{n: number, title?: string}>} citations
 * @param {string} prefix
 */
export function linkCitationRefs(body, citations, prefix) {
  if (!Array.isArray(citations) || !citations.length) return;
  const known = new Map(citations.map((c) => [Number(c.n), c]));
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement?.closest("a, code, pre") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  const texts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) if (HAS_REF.test(node.data)) texts.push(node);
  for (const node of texts) {
    const parts = [];
    let last = 0;
    REF.lastIndex = 0;
    for (let match = REF.exec(node.data); match; match = REF.exec(node.data)) {
      const citation = known.get(Number(match[1]));
      if (!citation) continue;
      if (match.index > last) parts.push(document.createTextNode(node.data.slice(last, match.index)));
      const target = citeId(prefix, citation.n);
      const link = el("a", {
        href: `#${target}`,
        class: "cite-ref",
        "aria-label": `Source ${citation.n}: ${citation.title || "a note"}`,
        text: match[0],
      });
      link.addEventListener("click", (event) => {
        const item = document.getElementById(target);
        if (!item) return;
        event.preventDefault();
        item.scrollIntoView({ block: "nearest" });
        item.focus({ preventScroll: true });
      });
      parts.push(link);
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    if (last < node.data.length) parts.push(document.createTextNode(node.data.slice(last)));
    node.replaceWith(...parts);
  }
}
