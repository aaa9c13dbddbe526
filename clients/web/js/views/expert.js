/**
 * Expert workspace (评标专家): check-in status and token, chair vote, score sheet with
 * validation, submission, deviation reasons, and signing the report.
 * @module views/expert
 */
import { t } from "../i18n.js";
import { b64u, signJson } from "../keys.js";
import { emptySession, expertCriteria, foldSession, scoredBids } from "../session.js";
import { act, card, fill, h, table, toast } from "../ui.js";
import { facts, phasePill, picker } from "./common.js";

const SCORE = /^\d{1,6}(\.\d{1,2})?$/;

/**
 * Whether a typed score is valid for a criterion: 0..max, at most 2 decimals.
 * @param {string} text @param {string|null} max
 */
export function validScore(text, max) {
  return SCORE.test(text) && (max === null || Number(text) <= Number(max));
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const me = conn.user;
  const id = ctx.params.get("session") || "";
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("expert.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" }, card(t("field.session"), picker("expert", "session", t("field.session"), id))), body));
  if (!id) return;
  const stream = `session:${id}`;
  const s = emptySession();
  /** @type {Record<string, HTMLInputElement>} */ const inputs = {};
  /** @type {Record<string, string>} what this page saved (acked before its event arrives) */
  const saved = {};
  const seat = /** @type {HTMLInputElement} */ (h("input", { id: "seat", placeholder: "lanzhou-1" }));
  const token = h("div", { class: "token", id: "checkin-token", hidden: true });
  const tokenBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button" }, t("expert.token")));
  tokenBtn.onclick = () => act(tokenBtn, async () => {
    const statement = { purpose: "evalroom-check-in", session: stream, expert: me, seat: seat.value.trim() };
    const sig = await signJson(conn.key, statement);
    const json = JSON.stringify({ expert: me, seat: statement.seat, sig });
    fill(token, "evalroom-checkin:" + b64u(new TextEncoder().encode(json)));
    token.hidden = false;
  }, "");
  const candidate = /** @type {HTMLSelectElement} */ (h("select", { id: "chair-candidate" }));
  const voteBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "vote-btn" }, t("expert.vote")));
  voteBtn.onclick = () => act(voteBtn, () => conn.command(stream, "session.vote_chair", { candidate: candidate.value }));
  const saveBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "save-scores" }, t("expert.save")));
  saveBtn.onclick = () => act(saveBtn, saveScores, "");
  const submitBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "submit-scores" }, t("expert.submit")));
  submitBtn.onclick = () => act(submitBtn, async () => {
    await saveScores();
    await conn.command(stream, "session.submit_scores", {}, { sign: true });
  });
  const signBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "sign-report" }, t("expert.sign_report")));
  const dissent = /** @type {HTMLInputElement} */ (h("input", { placeholder: "保留意见（可选）", id: "dissent" }));
  signBtn.onclick = () => act(signBtn, () => conn.command(stream, "session.sign_report",
    dissent.value.trim() ? { report_digest: s.digest, dissent: dissent.value.trim() } : { report_digest: s.digest }, { sign: true }));

  async function saveScores() {
    let n = 0;
    for (const [key, input] of Object.entries(inputs)) {
      const [bid, criterion] = key.split("/");
      const value = input.value.trim();
      if (!value || (saved[key] ?? s.myScores[bid]?.[criterion]) === value) continue;
      const max = input.dataset.max || null;
      if (!validScore(value, max)) {
        input.classList.add("invalid");
        throw Object.assign(new Error(t("expert.invalid", { max })), { code: "score_out_of_range" });
      }
      await conn.command(stream, "session.score", { bid, criterion, score: value }, { sign: true });
      saved[key] = value;
      n += 1;
    }
    if (n) toast(t("expert.saved", { n }));
  }

  function sheet() {
    const criteria = expertCriteria(s);
    const locked = s.submitted;
    const rows = scoredBids(s).map((/** @type {string} */ bid) => ({
      attrs: { "data-bid": bid },
      cells: [h("span", { class: "mono" }, bid), ...criteria.map((/** @type {any} */ c) => {
        const key = `${bid}/${c.id}`;
        let input = inputs[key];
        if (!input) {
          input = inputs[key] = /** @type {HTMLInputElement} */ (h("input", {
            inputmode: "decimal", "data-max": c.max_points, "aria-label": `${bid} ${c.name}`,
            id: `score-${bid}-${c.id}`, value: s.myScores[bid]?.[c.id] || "",
            oninput: (/** @type {any} */ e) => e.target.classList.toggle("invalid", !!e.target.value && !validScore(e.target.value.trim(), c.max_points)),
          }));
        }
        input.disabled = locked;
        return input;
      })],
    }));
    return card(t("expert.sheet"),
      table(["投标编号", ...criteria.map((/** @type {any} */ c) => `${c.name}（0–${c.max_points}）`)], rows, { class: "grid sheet", id: "score-sheet" }),
      h("div", { class: "toolbar" }, locked ? h("span", { class: "ok", id: "submitted" }, t("expert.submitted")) : [saveBtn, submitBtn]));
  }

  function deviations() {
    const mine = s.deviations.filter((/** @type {any} */ d) => d.expert === me);
    if (!mine.length) return null;
    return card(t("expert.deviation"), h("ul", { class: "objections" }, mine.map((/** @type {any} */ d) => {
      const done = s.reasons[me]?.[`${d.bid}/${d.criterion}`];
      if (done) return h("li", null, `${d.bid} · ${d.criterion} = ${d.score}：`, h("span", { class: "ok" }, done));
      const input = /** @type {HTMLInputElement} */ (h("input", { placeholder: t("expert.reason") }));
      const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button" }, t("ok")));
      b.onclick = () => act(b, () => conn.command(stream, "session.deviation_reason", { bid: d.bid, criterion: d.criterion, reason: input.value.trim() }, { sign: true }));
      return h("li", null, `${d.bid} · ${d.criterion}：${d.score}（其他专家均值 ${d.others_mean}）`, h("div", { class: "toolbar" }, input, b));
    })));
  }

  function report() {
    if (!s.report) return null;
    const bids = [...(s.report.ranking?.bids || [])].sort((a, b) => a.rank - b.rank);
    return card(t("expert.report"),
      table(["排名", "投标编号", "总分"], bids.map((b) => [String(b.rank), b.bid_id, b.total]), { class: "grid", id: "ranking" }),
      facts([[t("expert.digest"), h("span", { class: "mono small", id: "digest" }, s.digest)]]),
      h("div", { class: "toolbar" }, s.signed.includes(me) ? h("span", { class: "ok", id: "report-signed" }, "已签署") : [dissent, signBtn]));
  }

  function render() {
    const mine = s.checkedIn[me];
    const member = s.committee.find((/** @type {any} */ m) => m.expert === me);
    if (candidate.options.length !== s.committee.length) {
      fill(candidate, s.committee.map((/** @type {any} */ m) => h("option", { value: m.expert }, `${m.name}（${m.expert}）`)));
    }
    fill(body,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, stream), phasePill(s.phase)),
      s.pause ? h("div", { class: "notice" }, "评标已暂停：", s.pause.reason || "") : null,
      facts([
        ["场地", member ? s.venues[member.venue]?.name || member.venue : "—"],
        [t("expert.checkin"), mine ? h("span", { class: "ok", id: "checkin-status" }, t("expert.checked", { seat: mine.seat })) : h("span", { id: "checkin-status" }, t("expert.not_checked"))],
        ["组长", s.chair || "—"],
      ]),
      !mine ? card(t("expert.checkin"), h("p", { class: "hint" }, t("expert.token_hint")), h("div", { class: "toolbar" }, h("label", null, t("expert.seat"), seat), tokenBtn), token) : null,
      s.phase === "chair_election" ? card(t("expert.chair"), h("div", { class: "toolbar" }, candidate, voteBtn)) : null,
      ["detailed_review", "deviation_check"].includes(s.phase) ? sheet() : null,
      deviations(),
      report(),
    );
  }
  ctx.follow(stream, (ev) => { foldSession(s, ev, me); render(); });
  render();
}
