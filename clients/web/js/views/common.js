/**
 * Pieces several role pages share: the stream picker, the bid status table, the read-out.
 * @module views/common
 */
import { lang, phaseName, t } from "../i18n.js";
import { formFields } from "../tender.js";
import { card, countdownText, h, statusBadge, table, toast } from "../ui.js";

/**
 * A small form to pick a tender or session id; navigates to `#/<view>?<param>=<id>`.
 * @param {string} view @param {string} param @param {string} label @param {string} value
 */
export function picker(view, param, label, value) {
  const input = /** @type {HTMLInputElement} */ (
    h("input", { id: `pick-${param}`, value: value || "", placeholder: label, required: true })
  );
  const form = h("form", { class: "picker" }, h("label", null, label, input),
    h("button", { class: "secondary", type: "submit" }, t("field.open")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `#/${view}?${param}=${encodeURIComponent(input.value.trim())}`;
  });
  return form;
}

/** @param {string} phase */
export function phasePill(phase) {
  return h("span", { class: `phase p-${phase || "none"}`, id: "phase" }, phase ? phaseName(phase) : "—");
}

/**
 * The live per-bid status table of the opening.
 * @param {any} s folded tender state @param {{mine?: boolean}} [opts]
 */
export function statusTable(s, opts = {}) {
  const rows = Object.values(s.bids)
    .sort((/** @type {any} */ a, /** @type {any} */ b) => a.number.localeCompare(b.number))
    .map((/** @type {any} */ b) => ({
      attrs: { "data-bid": b.number, class: s.mine[b.number] ? "mine" : "" },
      cells: [
        h("span", { class: "mono" }, b.number, s.mine[b.number] && opts.mine ? h("em", { class: "tag" }, t("bidder.mine")) : null),
        sectionName(s, b.section),
        b.org || "—",
        statusBadge(b.status),
        reasonText(b.reason),
      ],
    }));
  return table(
    [t("col.number"), t("col.section"), t("col.org"), t("col.status"), t("col.reason")],
    rows,
    { class: "grid", id: "bid-status" },
  );
}

/** The read-out (唱标) table: each bid's key fields as the bidder filled them. @param {any} s */
export function readOutTable(s) {
  const fields = formFields(s);
  const rows = (s.readOut || []).map((/** @type {any} */ e) => ({
    attrs: { "data-bid": e.number },
    cells: [
      h("span", { class: "mono" }, e.number), e.org, statusBadge(e.status),
      ...fields.map((f) => h("span", { class: "num" }, e.form ? fmt(e.form[f.name]) : "—")),
      standingText(e),
    ],
  }));
  return table([t("col.number"), t("col.org"), t("col.status"), ...fields.map((f) => f.label), t("col.reason")], rows, {
    class: "grid", id: "read-out",
  });
}

/** A read-out price against the control price: 否决投标 above it, 低于成本 review below its floor. @param {any} e */
function standingText(e) {
  const parts = ["rejected", "review"]
    .filter((key) => e[key])
    .map((key) => t(`standing.${key}`, { detail: lang === "en" ? e[key].detail_en : e[key].detail }));
  return h("span", { class: e.rejected ? "standing rejected" : "standing" }, parts.join("；") || "—");
}

/** Thousands separators for amounts. @param {any} v */
function fmt(v) {
  if (v === undefined || v === null) return "—";
  const s = String(v);
  const m = /^(-?\d+)(\.\d+)?$/.exec(s);
  return m ? Number(m[1]).toLocaleString("zh-CN") + (m[2] || "") : s;
}

/**
 * A key/value strip: [[label, value], …].
 * @param {([string, any]|null)[]} pairs
 */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

/** Countdown text to an ISO time ("00:00" once passed). @param {string} iso */
export function remaining(iso) {
  return countdownText(iso) || "00:00";
}

/**
 * `GET /api/tenders`: every published tender and every tender the user holds a role in.
 * @param {import("../connection.js").Connection} conn
 * @returns {Promise<{tender: string, title: string|null, phase: string|null, opening_at: string|null, roles: string[], sessions: string[], bid_stream?: string}[]>}
 */
export async function listTenders(conn) {
  const r = await fetch("/api/tenders", { headers: { authorization: `Bearer ${await conn.ensureToken()}` } });
  if (!r.ok) throw Object.assign(new Error(r.statusText), { code: `http_${r.status}` });
  const data = await r.json();
  if (!Array.isArray(data?.tenders)) throw Object.assign(new Error("bad reply"), { code: "bad_reply" });
  return data.tenders;
}

/** A role's name in words (the role pages' names). @param {string} role */
export function roleName(role) {
  const key = `nav.${role}`;
  const text = t(key);
  return text === key ? role : text;
}

/** A section's name in the tender's own words. @param {any} s @param {string} id */
export function sectionName(s, id) {
  const found = (s.config?.sections || []).find((/** @type {any} */ x) => x.id === id);
  return found?.name ? `${found.name}（${id}）` : id;
}

/**
 * 流标, shown before anything else: which section failed and why.
 * @param {any} s folded tender state
 */
export function failureBanner(s) {
  if (!s.failed || !s.failed.length) return null;
  return h("div", { class: "failure", role: "alert", id: "section-failed" },
    h("strong", null, t("failed.title")),
    h("ul", null, s.failed.map((/** @type {any} */ f) => h("li", { "data-section": f.section },
      t("failed.reason", { section: sectionName(s, f.section), valid: f.valid, min: f.min })))),
    h("p", { class: "hint" }, t("failed.next")));
}

/**
 * Allow a button only where the phase allows its action; `why` says why not (its title).
 * `act` leaves a forbidden button disabled.
 * @param {HTMLButtonElement} button @param {boolean} ok @param {string} [why]
 */
export function allow(button, ok, why) {
  button.dataset.forbidden = ok ? "" : "1";
  button.disabled = !ok;
  if (ok) button.removeAttribute("title");
  else if (why) button.title = why;
  return button;
}

/** An envelope's name in words (单一信封, 技术标, 商务标). @param {string} id */
export function envelopeName(id) {
  const key = `envelope.${id}`;
  const text = t(key);
  return text === key ? id : text;
}

/**
 * Why a bid failed, in words; the code and the server's detail go under 技术详情.
 * @param {string} [reason]
 */
export function reasonText(reason) {
  if (!reason) return "";
  const code = reason.split(/[:\s]/)[0];
  const key = `reason.${code}`;
  const text = t(key);
  if (text === key) return reason;
  const detail = reason.slice(code.length).replace(/^[:\s]+/, "");
  return h("span", { class: "reason", "data-reason": code }, text,
    detail ? h("details", { class: "tech" }, h("summary", null, t("details")), h("span", { class: "mono" }, detail)) : null);
}

/** A recorded sentence in the page's language (`detail`, `detail_en`). @param {any} x */
export function detailText(x) {
  return (lang === "en" ? x?.detail_en : x?.detail) || x?.detail || x?.reason || "";
}

/**
 * 有效投标不足三个: the committee's recorded decision, shown before anything else (a close by
 * 否决所有投标 ends the evaluation without a ranking).
 * @param {any} s folded session state
 */
export function fewValidBanner(s) {
  const f = s.fewValid;
  if (!f) return null;
  const all = f.decision === "reject_all";
  return h("div", { class: all ? "failure" : "notice", role: "alert", id: "few-valid", "data-decision": f.decision },
    h("strong", null, t("few.title"), t("colon"), t(`few.${f.decision}`)),
    h("p", null, detailText(f)),
    h("p", { class: "hint" }, t("few.counts", { valid: f.valid, opening: f.rejected_at_opening ?? 0, rule: t(`few.${f.rule}`) })),
    all && s.allRejected ? h("p", { id: "all-rejected" }, t("few.closed")) : null);
}

/**
 * The bids the opening rejected by the control price (否决投标), apart from those evaluated,
 * with the sentence read out; and those flagged below its floor (低于成本 review).
 * @param {any} s folded session state
 */
export function standingsCard(s) {
  if (!s.rejected?.length && !s.flagged?.length) return null;
  /** @param {any[]} list @param {string} id */
  const rows = (list, id) => table([t("col.number"), t("col.org"), t("col.price"), t("col.reason"), t("rej.by")],
    list.map((/** @type {any} */ b) => ({
      attrs: { "data-bid": b.bid_id },
      cells: [h("span", { class: "mono" }, b.bid_id), b.company, h("span", { class: "num" }, b.price),
        h("span", { class: "standing rejected" }, detailText(b)),
        b.by === "control_price" ? t("rej.by_control_price", { seq: b.at?.seq ?? "—" }) : b.by],
    })), { class: "grid", id });
  return card(t("rej.title"),
    s.rejected?.length ? [h("p", { class: "hint" }, t("rej.hint")), rows(s.rejected, "rejected-bids")] : null,
    s.flagged?.length ? [h("h3", null, t("rej.flagged")), rows(s.flagged, "flagged-bids")] : null);
}

/**
 * Fetch a file with the user's token and hand it to the browser as a download; a refusal
 * becomes an error carrying the server's sentence and code.
 * @param {import("../connection.js").Connection} conn @param {string} path @param {string} name
 */
export async function downloadFile(conn, path, name) {
  const r = await fetch(path, { headers: { authorization: `Bearer ${await conn.ensureToken()}`, "accept-language": document.documentElement.lang || "zh-CN" } });
  if (!r.ok) {
    const data = await r.json().catch(() => ({}));
    throw Object.assign(new Error(data.message || t("dl.failed")), { code: data.code || `http_${r.status}` });
  }
  const url = URL.createObjectURL(await r.blob());
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * 下载: the evaluation report (HTML, PDF) once drawn up, and for supervisors the session's
 * evidence bundle (证据包), each fetched with the user's token.
 * @param {import("../connection.js").Connection} conn @param {string} id @param {any} s
 * @param {{bundle?: boolean}} [opts]
 */
export function downloadsCard(conn, id, s, opts = {}) {
  const base = `/api/sessions/${encodeURIComponent(id)}`;
  /** @param {string} key @param {string} path @param {string} name @param {boolean} ok */
  const button = (key, path, name, ok) => {
    const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: `dl-${key}` }, t(`dl.${key}`)));
    b.onclick = async () => {
      b.disabled = true;
      try {
        await downloadFile(conn, path, name);
      } catch (err) {
        toast(t("error", { message: /** @type {any} */ (err).message }), "error");
      } finally {
        b.disabled = !ok;
      }
    };
    return allow(b, ok, t("dl.not_ready"));
  };
  const ready = !!s.report;
  return card(t("dl.title"),
    h("p", { class: "hint" }, ready ? t("dl.hint") : t("dl.not_ready")),
    h("div", { class: "toolbar", id: "downloads" },
      button("report_html", `${base}/report.html`, `${id}-report.html`, ready),
      button("report_pdf", `${base}/report.pdf`, `${id}-report.pdf`, ready),
      opts.bundle ? button("bundle", `${base}/bundle`, `session-${id}.bundle.json.gz`, true) : null));
}
