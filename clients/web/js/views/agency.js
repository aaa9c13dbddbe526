/**
 * Agency console (招标代理): create and publish a tender, run the opening ceremony, then
 * follow the evaluation's phase and progress only (the agency never sees a score).
 * @module views/agency
 */
import { eventName, phaseName, t } from "../i18n.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, confirmAction, card, clock, countdown as countdownEl, fill, h, table } from "../ui.js";
import { allow, facts, roleName, failureBanner, phasePill, picker, readOutTable, remaining, statusTable } from "./common.js";

const TEMPLATE = {
  sections: [{ id: "S1", name: "第一标段" }],
  envelopes: ["single"],
  opening_at: "",
  decryption_window_seconds: 1800,
  min_bids: 3,
  failure_rule: "committee",
  opening_recipient: "age1…（由代理机构客户端生成）",
  threshold: { k: 2, n: 3 },
  keyholders: [],
  forms: { single: [{ name: "price", type: "decimal", required: true, label: "投标报价（元）" }] },
};

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const tender = ctx.params.get("tender") || "";
  const session = ctx.params.get("session") || (tender ? `${tender}-S1` : "");
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("agency.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" }, card(t("field.tender"), picker("agency", "tender", t("field.tender"), tender)), createCard(ctx)), body));
  if (!tender) return;
  const stream = `tender:${tender}`;
  const s = emptyTender();
  /** @type {Record<string, string>} */ const answers = {};

  /** @param {string} id @param {string} label @param {string} type @param {any} [cmdBody] @param {boolean} [sign] */
  function button(id, label, type, cmdBody = {}, sign = false, cls = "primary") {
    const b = /** @type {HTMLButtonElement} */ (h("button", { id, class: cls, type: "button" }, label));
    b.onclick = () => act(b, async () => {
      if (sign && !(await confirmAction({
        title: label,
        items: [
          [t("confirm.stream"), s.title || tender],
          [t("confirm.record"), t("confirm.bids_n", { n: (s.readOut || []).length })],
          ...(s.readOut || []).map((/** @type {any} */ e) => /** @type {[string, any]} */ ([e.number, e.org || "—"])),
        ],
        details: { stream, type, record: s.readOut || [] },
      }))) return CANCELLED;
      return conn.command(stream, type, cmdBody, { sign });
    });
    return b;
  }
  const controls = h("div", { class: "steps" },
    button("start-btn", t("agency.start"), "opening.start"),
    button("close-btn", t("agency.close_window"), "opening.close_window"),
    button("readout-btn", t("agency.read_out"), "opening.read_out"),
    button("sign-btn", t("agency.sign_record"), "opening.sign_record", {}, true),
  );
  const publish = button("publish-btn", t("agency.publish"), "tender.publish", {}, false, "secondary");
  const live = h("div");
  const progress = h("div");
  fill(body, live, progress);
  const countdown = h("span", { class: "mono" }, "—");

  /** Each step of the opening is offered only when it can be taken. */
  function gate() {
    const why = t("why.phase");
    const running = s.phase === "opening" && !!s.stage;
    const [start, close, readout, sign] = ["start-btn", "close-btn", "readout-btn", "sign-btn"].map(
      (x) => /** @type {HTMLButtonElement} */ (controls.querySelector(`#${x}`)));
    allow(start, s.phase === "bidding" || (s.phase === "opening" && !s.stage), why);
    allow(close, running && !s.windowClosed, why);
    allow(readout, running && !!s.windowClosed && !s.readOut, why);
    allow(sign, running && !!s.readOut && !s.recordSigned.includes("agency"), s.recordSigned.includes("agency") ? t("why.done") : why);
  }

  function render() {
    publish.hidden = s.phase !== "draft";
    gate();
    fill(live,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, s.title || tender, h("small", { class: "mono" }, ` ${tender}`)), phasePill(s.phase), publish),
      facts([
        [t("bidder.opening_at"), s.config ? beijing(s.config.opening_at) : "—"],
        s.config && (s.phase === "bidding" || s.phase === "draft") ? [t("bidder.opening_in"), countdownEl(s.config.opening_at, "tz.opening_passed")] : null,
        [t("agency.bids"), String(s.receipts.length || Object.keys(s.bids).length)],
        [t("bidder.window_left"), countdown],
        [t("status.decrypted"), `${Object.values(s.bids).filter((/** @type {any} */ b) => b.status === "decrypted").length}/${Object.keys(s.bids).length}`],
        [t("agency.record_signed"), s.recordSigned.map((/** @type {string} */ r) => roleName(r)).join(t("list_sep")) || "—"],
      ]),
      failureBanner(s),
      card(t("agency.run"), controls, s.stage ? statusTable(s) : h("p", { class: "hint" }, t("agency.start_hint"))),
      s.readOut ? card(t("bidder.readout"), readOutTable(s)) : null,
      s.objections.length ? card(t("agency.objections"), h("ul", { class: "objections" }, s.objections.map((/** @type {any} */ o) => objectionItem(o)))) : null,
    );
  }
  /** @param {any} o */
  function objectionItem(o) {
    if (o.answer) return h("li", null, h("strong", null, o.org, t("colon")), o.text, h("div", { class: "answer" }, t("answer_prefix"), o.answer));
    const input = /** @type {HTMLInputElement} */ (h("input", { value: answers[o.id] || "", placeholder: t("agency.answer_text"), "aria-label": t("agency.answer_text"), oninput: (/** @type {any} */ e) => (answers[o.id] = e.target.value) }));
    const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button" }, t("agency.answer")));
    b.onclick = () => act(b, () => conn.command(stream, "opening.answer", { objection: o.id, text: input.value.trim() }));
    return h("li", null, h("strong", null, o.org, t("colon")), o.text, h("div", { class: "toolbar" }, input, b));
  }
  ctx.follow(stream, (ev) => { foldTender(s, ev); render(); });
  const timer = setInterval(() => { countdown.textContent = s.windowEnds && !s.windowClosed ? remaining(s.windowEnds) : "—"; }, 1000);
  ctx.offs.push(() => clearInterval(timer));
  render();

  // The evaluation: phase and progress counts only.
  const sessionStream = `session:${session}`;
  /** @type {{phase: string, progress: Record<string, any>, log: any[]}} */
  const ev = { phase: "", progress: {}, log: [] };
  function renderProgress() {
    fill(progress, card(t("agency.progress"),
      h("div", { class: "title-row" }, h("span", null, t("field.session"), " ", session), phasePill(ev.phase)),
      table([t("col.step"), t("progress")], Object.values(ev.progress).map((p) => [phaseName(p.step), progressBar(p.done, p.of)]), { class: "grid" }),
      h("ul", { class: "feed compact" }, ev.log.slice(-8).reverse().map((e) => h("li", { "data-type": e.type }, clock(e.at), " ", eventName(e.type) || phaseName(e.payload?.phase || ""))))));
  }
  ctx.follow(sessionStream, (e) => {
    if (e.type === "session.phase") ev.phase = e.payload.phase;
    if (e.type === "session.created") ev.phase = "draw";
    if (e.type === "session.progress") ev.progress[e.payload.step] = e.payload;
    ev.log.push(e);
    renderProgress();
  });
}

/** @param {number} done @param {number} of */
export function progressBar(done, of) {
  const pct = of ? Math.round((100 * done) / of) : 0;
  return h("div", { class: "bar" }, h("span", { style: `width:${pct}%` }), h("em", null, `${done}/${of}`));
}

/** @param {import("../app.js").ViewContext} ctx */
function createCard(ctx) {
  const id = /** @type {HTMLInputElement} */ (h("input", { id: "new-tender", placeholder: "T2025-001" }));
  const title = /** @type {HTMLInputElement} */ (h("input", { id: "new-title", placeholder: "公路养护工程" }));
  const config = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "new-config", rows: 6, spellcheck: "false" }, JSON.stringify(TEMPLATE, null, 1)));
  const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button" }, t("agency.create_btn")));
  b.onclick = () => act(b, async () => {
    const tid = id.value.trim();
    await ctx.conn.command(`tender:${tid}`, "tender.create", { title: title.value.trim(), config: JSON.parse(config.value) });
    location.hash = `#/agency?tender=${encodeURIComponent(tid)}`;
  });
  return h("details", { class: "card" }, h("summary", null, t("agency.create")),
    h("label", null, t("field.tender"), id), h("label", null, t("agency.title_field"), title),
    h("label", null, t("agency.config"), config), b);
}
