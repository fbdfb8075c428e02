// Support card: crisis and support resources sent privately by the server.
import { h, safeHttpUrl } from "./dom.js";

/** "1-800-273-8255" -> "18002738255"; "+44 116 123" -> "+44116123". */
export function telHref(phone) {
  if (typeof phone !== "string") return null;
  const trimmed = phone.trim();
  const digits = trimmed.replace(/[^\d]/g, "");
  if (digits.length < 2) return null;
  return `tel:${trimmed.startsWith("+") ? "+" : ""}${digits}`;
}

/**
 * Parse the resource `sms` field into {number, body}.
 *   "741741"                    -> {number: "741741", body: null}
 *   "text HOME to 741741"       -> {number: "741741", body: "HOME"}
 *   "Text SHOUT to 85258"       -> {number: "85258", body: "SHOUT"}
 *   "85258 (text SHOUT)"        -> {number: "85258", body: "SHOUT"}
 *   "text \"HELLO\" to 741-741" -> {number: "741741", body: "HELLO"}
 */
export function parseSms(raw) {
  if (typeof raw !== "string") return null;
  const s = raw.trim();
  if (!s) return null;
  // Phone number: the first run of digits (spaces, dashes, dots, brackets allowed inside).
  const numMatch = s.match(/\+?\d[\d\s\-().]*\d|\d/);
  if (!numMatch) return null;
  const plus = numMatch[0].startsWith("+") ? "+" : "";
  const number = plus + numMatch[0].replace(/[^\d]/g, "");
  if (number.replace("+", "").length < 3) return null;
  // Keyword: the word after "text"/"send"/"message", quoted or not, that is not a number or "to".
  let body = null;
  const kw = s.match(/\b(?:text|txt|send|message)\s+["'“‘]?([^\s"'”’]+)["'”’]?/i);
  if (kw && !/^\+?\d[\d\-().]*$/.test(kw[1]) && kw[1].toLowerCase() !== "to") {
    body = kw[1].replace(/[.,;:!?)]+$/, "");
  }
  return { number, body: body || null };
}

export function smsHref(raw) {
  const parsed = parseSms(raw);
  if (!parsed) return null;
  return parsed.body
    ? `sms:${parsed.number}?&body=${encodeURIComponent(parsed.body)}`
    : `sms:${parsed.number}`;
}

function resourceItem(res) {
  const links = [];
  if (res.phone) {
    const href = telHref(res.phone);
    links.push(href
      ? h("a", { class: "res-link res-call", href }, h("span", { class: "res-verb" }, "Call"), res.phone)
      : h("span", { class: "res-link" }, `Call ${res.phone}`));
  }
  if (res.sms) {
    const href = smsHref(res.sms);
    const label = /\btext\b/i.test(res.sms) ? res.sms : `Text ${res.sms}`;
    links.push(href
      ? h("a", { class: "res-link res-text", href }, label)
      : h("span", { class: "res-link" }, label));
  }
  for (const [field, verb] of [["chat", "Chat online"], ["url", "Website"]]) {
    if (!res[field]) continue;
    const href = safeHttpUrl(res[field]);
    links.push(href
      ? h("a", { class: "res-link res-web", href, target: "_blank", rel: "noopener noreferrer" },
          verb, h("span", { class: "visually-hidden" }, ` for ${res.name || "this service"} (opens in a new tab)`))
      : h("span", { class: "res-link" }, `${verb}: ${res[field]}`));
  }
  const meta = [];
  if (res.hours) meta.push(res.hours);
  if (res.region) meta.push(res.region);
  if (Array.isArray(res.languages) && res.languages.length) meta.push(res.languages.join(", "));
  return h("li", { class: "resource" },
    h("p", { class: "res-name" }, res.name || "Support service"),
    res.description ? h("p", { class: "res-desc" }, res.description) : null,
    links.length ? h("div", { class: "res-links" }, links) : null,
    meta.length ? h("p", { class: "res-meta" }, meta.join(" · ")) : null,
  );
}

let cardSeq = 0;

/**
 * Build the support card element. `ev` is the `support` event (or
 * {text, resources} for the always-available help panel).
 */
export function supportCard(ev, { onDismiss, title = "You don't have to go through this alone" } = {}) {
  cardSeq += 1;
  const headingId = `support-title-${cardSeq}`;
  const textId = `support-text-${cardSeq}`;
  const imminent = ev.severity === "imminent";
  const resources = Array.isArray(ev.resources) ? ev.resources : [];
  const card = h("section", {
    class: `support-card${imminent ? " imminent" : ""}`,
    role: "alertdialog",
    "aria-modal": "false",
    "aria-labelledby": headingId,
    "aria-describedby": textId,
    tabindex: "-1",
    dataset: { severity: ev.severity || "" },
  },
    h("h2", { id: headingId, class: "support-title" }, title),
    h("p", { id: textId, class: "support-text" },
      ev.text || "If you are in danger right now, call your local emergency number."),
    h("p", { class: "support-private" }, "Only you can see this."),
    resources.length ? h("ul", { class: "resources", "aria-label": "Support services" }, resources.map(resourceItem)) : null,
    h("div", { class: "support-actions" },
      h("button", { type: "button", class: "btn btn-quiet support-dismiss", onclick: () => onDismiss?.(card) },
        "Close this card")),
  );
  card.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.stopPropagation(); onDismiss?.(card); }
  });
  return card;
}
