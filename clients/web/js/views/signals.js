/**
 * Red flags, live (风险提示): the panel of a supervisor's page. It follows the tender's
 * `signals:<tender>` stream, which only the tender's supervisors can read (to anyone else the
 * server answers as for a name that does not exist), and shows each `signal.raised` with the
 * server's own sentence in the page's language and a drill-down to its evidence: the bids
 * with their companies, the fields read, the figures and the thresholds used. Until the
 * first signal is computed the stream does not exist yet, so the panel asks again every few
 * seconds. Signals are advisory: the panel says so, and nothing here acts on a result.
 * @module views/signals
 */
import { lang, t } from "../i18n.js";
import { card, clock, fill, h, table } from "../ui.js";

const RETRY_MS = 3000;

/** @param {Record<string, any>} values @param {string} cls */
function pairs(values, cls) {
  const rows = Object.entries(values || {});
  if (!rows.length) return h("p", { class: `hint ${cls}` }, "—");
  return table([t("rf.name"), t("rf.value")], rows.map(([k, v]) => [h("span", { class: "mono" }, k), h("span", { class: "num" }, String(v))]), { class: `grid ${cls}` });
}

/** One signal: its sentence, and the evidence behind a disclosure. @param {any} p @param {string} at */
export function signalItem(p, at) {
  const message = p.message || {};
  const sentence = (lang === "en" ? message.en : message["zh-CN"]) || p.code;
  const bidders = p.bidders || {};
  const evidence = p.evidence || {};
  const bids = (evidence.bids || []).map((/** @type {string} */ b) => (bidders[b] ? `${b}（${bidders[b]}）` : b)).join("、");
  return h("li", { class: "rf-signal", "data-code": p.code, "data-id": p.id, "data-phase": p.phase },
    h("div", { class: "rf-line" },
      h("span", { class: "badge s-failed" }, t("rf.flag")), " ",
      h("span", { class: "mono hint" }, clock(at), ` ${t("tz.beijing")}`), " ",
      h("strong", null, t("rf.where", { section: p.section, phase: t(`rf.phase.${p.phase}`) })), " ",
      h("span", { class: "rf-sentence" }, sentence)),
    h("details", { class: "rf-evidence" },
      h("summary", null, t("rf.evidence"), " ", h("span", { class: "mono hint" }, p.code)),
      h("p", { class: "rf-bids" }, h("strong", null, t("rf.bids")), bids || "—"),
      h("p", { class: "rf-fields" }, h("strong", null, t("rf.fields")), (evidence.fields || []).join("、") || "—"),
      h("h4", null, t("rf.figures")), pairs(evidence.figures, "rf-figures"),
      h("h4", null, t("rf.threshold")), pairs(p.threshold, "rf-threshold")));
}

/**
 * The 风险提示 card for `tender` ("T1" or "tender:T1"), live; mount it once per page.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender
 */
export function signalsCard(ctx, tender) {
  const stream = `signals:${tender.replace(/^tender:/, "")}`;
  /** @type {{p: any, at: string}[]} */ const raised = [];
  let runs = 0;
  let lastRun = "";
  const list = h("ul", { class: "rf-list plain-list", id: "rf-list" });
  const status = h("p", { class: "hint", id: "rf-status" });
  const box = card(t("rf.title"), h("p", { class: "hint" }, t("rf.advisory")), status, list);
  box.id = "rf-panel";
  function render() {
    fill(status, runs ? [t("rf.checked", { n: runs }), clock(lastRun), ` ${t("tz.beijing")}`] : t("rf.waiting"));
    fill(list, raised.length ? raised.map((r) => signalItem(r.p, r.at)) : h("li", { class: "hint", id: "rf-none" }, t("rf.none")));
  }
  let retry = 0;
  ctx.on("error", (/** @type {any} */ e) => {
    if (e.stream !== stream || e.code !== "unknown_stream" || retry) return;
    retry = window.setTimeout(() => { retry = 0; ctx.conn.subscribe(stream); }, RETRY_MS);
  });
  ctx.offs.push(() => clearTimeout(retry));
  ctx.follow(stream, (ev) => {
    if (ev.type === "signal.raised" && !raised.some((r) => r.p.id === ev.payload.id)) raised.push({ p: ev.payload, at: ev.at });
    if (ev.type === "signals.checked") { runs += 1; lastRun = ev.at; }
    render();
  });
  render();
  return box;
}
