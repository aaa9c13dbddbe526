/**
 * Small DOM helpers: no framework, no build step.
 * @module ui
 */
import { phaseName, t } from "./i18n.js";

/**
 * Create an element: h("button", {class: "primary", onclick: fn}, "text", child…).
 * @param {string} tag @param {Record<string, any>|null} [attrs] @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** @param {Node} el @param {any[]} children */
function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. @param {Element} el @param {...any} children */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A card: title, optional actions, body. */
export function card(title, ...body) {
  return h("section", { class: "card" }, h("h2", null, title), ...body);
}

/** @param {string} status */
export function statusBadge(status) {
  return h("span", { class: `badge s-${status}`, "data-status": status }, t(`status.${status}`));
}

/** Beijing time, whatever the PC's own zone (China has no daylight saving time). */
const BJ_DATE = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
const BJ_TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

/**
 * A date and time in Beijing time, labelled: "2026-11-30 09:07:00 北京时间".
 * @param {string} iso
 */
export function beijing(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d.getTime())) return "—";
  const p = Object.fromEntries(BJ_DATE.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${t("tz.beijing")}`;
}

/**
 * A time of day in Beijing time, as a <time> element labelled in its title (feeds and tables,
 * whose headings say 北京时间).
 * @param {string} iso
 */
export function clock(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d.getTime())) return "—";
  return h("time", { datetime: d.toISOString(), title: `${beijing(iso)}`, class: "bj" }, BJ_TIME.format(d));
}

/**
 * Time left until an ISO time, in words a person reads: "2天 03:04:05", "12:03", or null once
 * it has passed.
 * @param {string} iso
 */
export function countdownText(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (!(ms > 0)) return null;
  const s = Math.floor(ms / 1000);
  const days = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  const clockPart = hh || days ? `${String(hh).padStart(2, "0")}:${mm}:${ss}` : `${mm}:${ss}`;
  return days ? t("tz.days", { n: days }) + " " + clockPart : clockPart;
}

/** @type {Set<HTMLElement>} every live countdown on the page, refreshed once a second */
const countdowns = new Set();
setInterval(() => {
  for (const el of countdowns) {
    if (!el.isConnected) countdowns.delete(el);
    else tickCountdown(el);
  }
}, 1000);

/** @param {HTMLElement} el */
function tickCountdown(el) {
  const left = countdownText(el.dataset.until || "");
  el.textContent = left ? t("tz.left", { left }) : t(el.dataset.over || "tz.passed");
  el.classList.toggle("over", !left);
}

/**
 * A countdown to an ISO time that ticks by itself: "还剩 02:03:04", then `overKey`'s text.
 * @param {string} iso @param {string} [overKey] @param {Record<string, any>} [attrs]
 */
export function countdown(iso, overKey = "tz.passed", attrs = {}) {
  const el = h("span", { class: "countdown mono", ...attrs, dataset: { until: iso, over: overKey } });
  tickCountdown(el);
  countdowns.add(el);
  return el;
}

/**
 * A toast at the bottom right.
 * @param {string} text @param {"ok"|"error"} [kind]
 */
export function toast(text, kind = "ok") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const el = h("div", { class: `toast ${kind}`, role: "status" }, text);
  box.appendChild(el);
  setTimeout(() => el.remove(), 3500);
  while (box.children.length > 3) box.firstElementChild?.remove();
}

/** What a confirmation dialog's cancel makes an action return: nothing was done. */
export const CANCELLED = Symbol("cancelled");

/**
 * Ask before an irreversible action: a modal dialog that says what will be signed or done,
 * item by item, with the exact content in "技术详情". Resolves true only on the confirm button;
 * Escape and the cancel button resolve false. Keyboard: focus starts on cancel.
 * @param {{title: string, lead?: string, items?: [string, any][], details?: any, signed?: boolean, okText?: string}} what
 * @returns {Promise<boolean>}
 */
export function confirmAction(what) {
  document.getElementById("confirm-dialog")?.remove();
  const ok = /** @type {HTMLButtonElement} */ (h("button", { class: what.signed === false ? "danger" : "primary", type: "button", id: "confirm-ok" },
    what.okText || (what.signed === false ? t("confirm.do") : t("confirm.sign"))));
  const cancel = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "confirm-cancel" }, t("confirm.cancel")));
  const dialog = /** @type {HTMLDialogElement} */ (h("dialog", { id: "confirm-dialog", "aria-labelledby": "confirm-title" },
    h("h2", { id: "confirm-title" }, what.title),
    what.signed === false ? null : h("p", { class: "sign-note" }, t("confirm.signed_note")),
    what.lead ? h("p", null, what.lead) : null,
    what.items && what.items.length ? h("dl", { class: "facts confirm-items" }, what.items.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))) : null,
    what.details === undefined ? null : h("details", null, h("summary", null, t("details")),
      h("pre", { class: "mono" }, JSON.stringify(what.details, null, 2))),
    h("div", { class: "actions" }, cancel, ok)));
  document.body.appendChild(dialog);
  return new Promise((resolve) => {
    let answer = false;
    ok.onclick = () => { answer = true; dialog.close(); };
    cancel.onclick = () => dialog.close();
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * Run an async action from a button: disable it meanwhile, toast the outcome.
 * @param {HTMLButtonElement|null} button @param {() => Promise<any>} fn @param {string} [okText]
 */
export async function act(button, fn, okText) {
  if (button) button.disabled = true;
  try {
    const r = await fn();
    if (r === CANCELLED) return undefined;
    if (okText !== "") toast(okText || t("ok"));
    return r;
  } catch (err) {
    const e = /** @type {any} */ (err);
    toast(t("error", { message: e.message }), "error");
    return undefined;
  } finally {
    if (button) button.disabled = button.dataset.forbidden === "1";
  }
}

/**
 * A table from headers and rows of cells.
 * @param {string[]} heads @param {any[][]} rows @param {Record<string, any>} [attrs]
 */
export function table(heads, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", null, h("tr", null, heads.map((x) => h("th", null, x)))),
    h("tbody", null, rows.map((r) => h("tr", r.attrs || null, (r.cells || r).map((c) => h("td", null, c))))),
  );
}

/** Read a picked file as text. @param {HTMLInputElement} input */
export async function readPicked(input) {
  const file = input.files?.[0];
  if (!file) throw Object.assign(new Error("no file"), { code: "no_file" });
  return file.text();
}

/**
 * A short line for the live feed, in words: phases by name, criteria by the method's names.
 * @param {any} ev @param {(id: string) => string} [criterion] a criterion's name by its id
 */
export function describe(ev, criterion = (id) => id) {
  const p = ev.payload || {};
  switch (ev.type) {
    case "bid.status":
      return `${p.number} → ${t("status." + p.status)}${p.reason ? "（" + p.reason + "）" : ""}`;
    case "session.progress":
      return `${phaseName(p.step)} ${p.done}/${p.of}`;
    case "session.phase":
      return p.phase ? phaseName(p.phase) : p.text || "";
    case "tender.notice":
      return p.text || "";
    case "session.score":
      return `${p.bid} · ${criterion(p.criterion)} = ${p.score}`;
    case "opening.objection":
      return p.text;
    default:
      return "";
  }
}
