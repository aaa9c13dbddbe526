/**
 * Expert pool (评标专家库), for the platform's administrators and supervisors: every expert
 * with specialties, region, employer, credit, declared relations and suspension, and the
 * digest a draw would commit to now (`GET /api/pool`). Administrators also import a CSV file
 * and suspend or reinstate an expert, each after a confirmation; the server decides who may.
 * @module views/pool
 */
import { t } from "../i18n.js";
import { RequestError } from "../connection.js";
import { act, CANCELLED, card, clock, confirmAction, fill, h, table } from "../ui.js";

/**
 * A call to the pool's API with the user's token; a refusal throws its sentence with the
 * server's detail (an import names the line and the field at fault).
 * @param {import("../connection.js").Connection} conn @param {string} path @param {RequestInit} [init]
 */
async function api(conn, path, init = {}) {
  const headers = { authorization: `Bearer ${await conn.ensureToken()}`,
    "accept-language": document.documentElement.lang || "zh-CN", ...(init.headers || {}) };
  const r = await fetch(path, { ...init, headers });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const text = [data.message || r.statusText, data.detail].filter(Boolean).join(" ");
    throw new RequestError(data.code || `http_${r.status}`, text, data.detail);
  }
  return data;
}

/** @param {any} e an expert of the managers' list */
function status(e) {
  if (e.suspended) {
    return h("span", { class: "badge s-failed", title: `${e.suspended.by} · ${clock(e.suspended.at)}` },
      t("pool.suspended"), "：", e.suspended.reason);
  }
  return e.available ? h("span", { class: "badge s-decrypted" }, t("pool.drawable"))
    : h("span", { class: "badge s-waiting" }, t("pool.unavailable"));
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const side = h("aside", { class: "side" });
  const main = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("pool.title"))), h("div", { class: "cols" }, side, main));

  /** @type {boolean} */ let admin = false;
  const reason = /** @type {HTMLInputElement} */ (h("input", { id: "pool-reason", maxlength: 2000 }));

  async function load() {
    const view = await api(conn, "/api/pool");
    const heads = [t("pool.col.id"), t("pool.col.name"), t("pool.col.specialties"), t("pool.col.region"),
      t("pool.col.employer"), t("pool.col.credit"), t("pool.col.relations"), t("col.status")];
    if (admin) heads.push(t("pool.col.action"));
    const rows = view.experts.map((/** @type {any} */ e) => {
      const cells = [h("span", { class: "mono" }, e.id), e.name, e.specialties.join("、"), e.region, e.employer,
        e.credit, e.relations.join("、") || "—", status(e)];
      if (admin) cells.push(actionButton(e));
      return { attrs: { "data-expert": e.id, class: e.suspended ? "suspended" : "" }, cells };
    });
    fill(main,
      card(t("pool.digest"), h("p", { class: "mono digest", id: "pool-digest" }, view.digest),
        h("p", { class: "hint" }, t("pool.digest_hint", { n: view.experts.length }))),
      card(t("pool.experts"), rows.length ? table(heads, rows, { class: "grid", id: "pool-table" })
        : h("p", { class: "hint", id: "pool-empty" }, t("pool.empty"))));
  }

  /** @param {any} e */
  function actionButton(e) {
    const suspending = !e.suspended;
    const btn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: suspending ? "danger" : "secondary",
      "data-action": suspending ? "suspend" : "unsuspend" }, t(suspending ? "pool.suspend" : "pool.unsuspend")));
    btn.onclick = () => act(btn, async () => {
      const why = reason.value.trim();
      if (suspending && !why) {
        reason.focus();
        throw new Error(t("pool.reason_needed"));
      }
      const action = suspending ? "suspend" : "unsuspend";
      const body = why ? { reason: why } : {};
      if (!(await confirmAction({ title: t(`pool.${action}`), signed: false, lead: t(`pool.${action}_lead`),
        items: [[t("pool.col.id"), e.id], [t("pool.col.name"), e.name], [t("pool.reason"), why || "—"]],
        details: { path: `/api/pool/${e.id}/${action}`, body } }))) return CANCELLED;
      await api(conn, `/api/pool/${encodeURIComponent(e.id)}/${action}`, { method: "POST",
        headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      reason.value = "";
      await load();
    });
    return btn;
  }

  function adminTools() {
    const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "pool-file", accept: ".csv,text/csv" }));
    const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "pool-import-btn" }, t("pool.import")));
    const outcome = h("p", { class: "hint", id: "pool-import-result", role: "status" });
    btn.onclick = () => act(btn, async () => {
      const picked = file.files?.[0];
      if (!picked) throw new Error(t("pool.pick_file"));
      if (!(await confirmAction({ title: t("pool.import"), signed: false, lead: t("pool.import_lead"),
        items: [[t("pool.file"), picked.name], [t("pool.size"), `${picked.size} B`]] }))) return CANCELLED;
      // The file's own bytes: decoding here would turn a GBK file into replacement characters
      // the server could not tell from names; the server refuses what is not UTF-8.
      const r = await api(conn, "/api/pool/import", { method: "POST", headers: { "content-type": "text/csv" },
        body: picked });
      fill(outcome, t("pool.imported", { added: r.added, updated: r.updated, unchanged: r.unchanged, accounts: r.accounts_created }));
      file.value = "";
      await load();
    });
    fill(side,
      card(t("pool.import"), h("label", null, t("pool.file"), file), h("p", { class: "hint" }, t("pool.format")),
        h("div", { class: "toolbar" }, btn), outcome),
      card(t("pool.reason"), h("label", null, t("pool.reason_label"), reason)));
  }

  (async () => {
    try {
      const me = await api(conn, "/api/me");
      admin = (me.platform || []).includes("admin");
      if (admin) adminTools();
      else fill(side, card(t("pool.title"), h("p", { class: "hint" }, t("pool.readonly"))));
      await load();
    } catch (err) {
      fill(main, h("p", { class: "error", id: "pool-error", role: "alert" }, t("error", { message: /** @type {any} */ (err).message })));
    }
  })();
}
