/**
 * Expert workspace (评标专家): check-in status and token, chair vote, score sheet with
 * validation, submission, deviation reasons, and signing the report.
 * @module views/expert
 */
import { t } from "../i18n.js";
import { b64u, signJson } from "../keys.js";
import { emptySession, expertCriteria, foldSession, passFailCriteria, scoredBids } from "../session.js";
import { act, CANCELLED, card, confirmAction, fill, h, table, toast } from "../ui.js";
import { allow, facts, fewValidBanner, phasePill, picker, standingsCard } from "./common.js";

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
  const candidate = /** @type {HTMLSelectElement} */ (h("select", { id: "chair-candidate", "aria-label": t("expert.chair") }));
  const voteBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "vote-btn" }, t("expert.vote")));
  voteBtn.onclick = () => act(voteBtn, () => conn.command(stream, "session.vote_chair", { candidate: candidate.value }));
  const saveBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "save-scores" }, t("expert.save")));
  saveBtn.onclick = () => act(saveBtn, saveScores, "");
  const submitBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "submit-scores" }, t("expert.submit")));
  submitBtn.onclick = () => act(submitBtn, async () => {
    await saveScores();
    const mine = s.myScores || {};
    const n = Object.values(mine).reduce((k, /** @type {any} */ row) => k + Object.keys(row).length, 0);
    if (!(await confirmAction({
      title: t("expert.submit"),
      lead: t("expert.submit_lead"),
      items: [[t("field.session"), id], [t("expert.sheet"), t("confirm.scores_n", { n })]],
      details: { stream, type: "session.submit_scores", scores: mine },
    }))) return CANCELLED;
    await conn.command(stream, "session.submit_scores", {}, { sign: true });
  });
  const signBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "sign-report" }, t("expert.sign_report")));
  const dissent = /** @type {HTMLInputElement} */ (h("input", { placeholder: t("expert.dissent"), "aria-label": t("expert.dissent"), id: "dissent" }));
  signBtn.onclick = () => act(signBtn, async () => {
    const body = dissent.value.trim() ? { report_digest: s.digest, dissent: dissent.value.trim() } : { report_digest: s.digest };
    if (!(await confirmAction({
      title: t("expert.sign_report"),
      items: [[t("field.session"), id], [t("confirm.report_digest"), h("span", { class: "mono digest" }, s.digest || "—")],
        ...(body.dissent ? [/** @type {[string, any]} */ ([t("expert.dissent"), body.dissent])] : [])],
      details: { stream, type: "session.sign_report", body },
    }))) return CANCELLED;
    return conn.command(stream, "session.sign_report", body, { sign: true });
  });

  /** @type {Record<string, {verdict: HTMLSelectElement, reason: HTMLInputElement}>} */
  const pfInputs = {};
  const prelimBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "save-preliminary" }, t("expert.prelim_save")));
  prelimBtn.onclick = () => act(prelimBtn, savePreliminary, "");
  const closePrelimBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "close-preliminary" }, t("expert.prelim_close")));
  closePrelimBtn.onclick = () => act(closePrelimBtn, () => conn.command(stream, "session.close_phase", { phase: "preliminary_review" }));

  /** Send (signed) every pass/fail verdict that changed; a fail needs a reason, checked here first. */
  async function savePreliminary() {
    /** @type {{bid: string, criterion: string, pass: boolean, reason: string}[]} */
    const todo = [];
    for (const [key, { verdict, reason }] of Object.entries(pfInputs)) {
      const [bid, criterion] = key.split("/");
      if (!verdict.value) continue;
      const pass = verdict.value === "pass";
      const why = reason.value.trim();
      if (!pass && !why) {
        reason.classList.add("invalid");
        reason.focus();
        throw Object.assign(new Error(t("expert.fail_reason", { bid })), { code: "reason_required" });
      }
      const had = s.verdicts[bid]?.[criterion];
      if (had && had.pass === pass && (had.reason || "") === (pass ? "" : why)) continue;
      todo.push({ bid, criterion, pass, reason: why });
    }
    for (const v of todo) {
      const body = v.pass ? { bid: v.bid, criterion: v.criterion, pass: true } : v;
      await conn.command(stream, "session.preliminary", body, { sign: true });
    }
    toast(t("expert.prelim_saved", { n: todo.length }));
  }

  function preliminary() {
    const criteria = passFailCriteria(s);
    const rows = s.bids.map((/** @type {any} */ b) => ({
      attrs: { "data-bid": b.bid_id },
      cells: [h("span", { class: "mono" }, b.bid_id), b.company, ...criteria.map((/** @type {any} */ c) => {
        const key = `${b.bid_id}/${c.id}`;
        let cell = pfInputs[key];
        if (!cell) {
          const had = s.verdicts[b.bid_id]?.[c.id];
          const verdict = /** @type {HTMLSelectElement} */ (h("select", { id: `pf-${b.bid_id}-${c.id}`, "aria-label": `${b.bid_id} ${c.name}` },
            h("option", { value: "" }, "—"), h("option", { value: "pass" }, t("expert.pass")), h("option", { value: "fail" }, t("expert.fail"))));
          verdict.value = had ? (had.pass ? "pass" : "fail") : "";
          const reason = /** @type {HTMLInputElement} */ (h("input", { id: `pf-reason-${b.bid_id}-${c.id}`, placeholder: t("expert.fail_placeholder"), "aria-label": `${b.bid_id} ${c.name} ${t("expert.fail_placeholder")}`, value: had?.reason || "" }));
          const sync = () => {
            reason.hidden = verdict.value !== "fail";
            reason.closest("td")?.classList.toggle("fail", verdict.value === "fail");
          };
          verdict.onchange = sync;
          reason.oninput = () => reason.classList.toggle("invalid", !reason.value.trim());
          cell = pfInputs[key] = { verdict, reason };
          queueMicrotask(sync);
        }
        const had = s.verdicts[b.bid_id]?.[c.id];
        return h("div", { class: "pf-cell" }, cell.verdict, " ", had ? h("span", { class: "badge s-decrypted pf-signed" }, t("expert.signed")) : null, cell.reason);
      })],
    }));
    const done = Object.values(s.verdicts).reduce((n, row) => n + Object.keys(/** @type {any} */ (row)).length, 0);
    const total = s.bids.length * criteria.length;
    return card(t("expert.prelim"),
      h("p", { class: "hint" }, t("expert.prelim_hint")),
      table([t("col.number"), t("col.org"), ...criteria.map((/** @type {any} */ c) => c.name)], rows, { class: "grid prelim", id: "prelim-sheet" }),
      h("div", { class: "toolbar" }, prelimBtn, s.chair === me ? closePrelimBtn : null,
        h("span", { class: done === total && total ? "ok" : "hint", id: "prelim-done" }, t("expert.prelim_done", { done, total }))));
  }

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
            oninput: (/** @type {any} */ e) => (e.target.dataset.dirty = "1") && e.target.classList.toggle("invalid", !!e.target.value && !validScore(e.target.value.trim(), c.max_points)),
          }));
        }
        // Not typed into here: show what the log says (scores replay after the sheet appears).
        if (!input.dataset.dirty && document.activeElement !== input) input.value = saved[key] ?? s.myScores[bid]?.[c.id] ?? "";
        input.disabled = locked;
        return input;
      })],
    }));
    return card(t("expert.sheet"),
      table([t("col.number"), ...criteria.map((/** @type {any} */ c) => `${c.name} (0–${c.max_points})`)], rows, { class: "grid sheet", id: "score-sheet" }),
      h("div", { class: "toolbar" }, locked ? h("span", { class: "ok", id: "submitted" }, t("expert.submitted")) : [saveBtn, submitBtn]));
  }

  function deviations() {
    const mine = s.deviations.filter((/** @type {any} */ d) => d.expert === me);
    if (!mine.length) return null;
    return card(t("expert.deviation"), h("ul", { class: "objections" }, mine.map((/** @type {any} */ d) => {
      const done = s.reasons[me]?.[`${d.bid}/${d.criterion}`];
      if (done) return h("li", null, `${d.bid} · ${d.criterion} = ${d.score}${t("colon")}`, h("span", { class: "ok" }, done));
      const input = /** @type {HTMLInputElement} */ (h("input", { placeholder: t("expert.reason"), "aria-label": t("expert.reason") }));
      const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button" }, t("ok")));
      b.onclick = () => act(b, () => conn.command(stream, "session.deviation_reason", { bid: d.bid, criterion: d.criterion, reason: input.value.trim() }, { sign: true }));
      return h("li", null, t("expert.deviation_item", { bid: d.bid, criterion: d.criterion, score: d.score, mean: d.others_mean }), h("div", { class: "toolbar" }, input, b));
    })));
  }

  function report() {
    if (!s.report) return null;
    const bids = [...(s.report.ranking?.bids || [])].sort((a, b) => a.rank - b.rank);
    return card(t("expert.report"),
      table([t("expert.rank"), t("col.number"), t("expert.total")], bids.map((b) => [String(b.rank), b.bid_id, b.total]), { class: "grid", id: "ranking" }),
      facts([[t("expert.digest"), h("span", { class: "mono small", id: "digest" }, s.digest)]]),
      h("div", { class: "toolbar" }, s.signed.includes(me) ? h("span", { class: "ok", id: "report-signed" }, t("expert.report_signed")) : [dissent, signBtn]));
  }

  /** Download one opened bid package (投标文件) with this expert's token. @param {string} bid */
  async function download(bid) {
    const r = await fetch(`/api/tenders/${encodeURIComponent(s.tender)}/opened/${encodeURIComponent(bid)}`,
      { headers: { authorization: `Bearer ${await conn.ensureToken()}` } });
    if (!r.ok) throw Object.assign(new Error(t("expert.doc_failed")), { code: `http_${r.status}` });
    const url = URL.createObjectURL(await r.blob());
    const a = h("a", { href: url, download: `${bid}.zip` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  function documents() {
    if (!s.bids.length || !s.tender) return null;
    const record = s.openingRecord.map((/** @type {any} */ r) => `#${r.seq} ${String(r.digest).slice(0, 12)}…`).join(" · ");
    return card(t("expert.documents"),
      record ? h("p", { class: "hint", id: "opening-record" }, t("expert.from_record", { record })) : null,
      h("ul", { class: "objections", id: "bid-documents" },
        s.bids.map((/** @type {any} */ b) => {
          const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", "data-bid": b.bid_id }, t("expert.download")));
          btn.onclick = () => act(btn, () => download(b.bid_id), "");
          return h("li", null, h("strong", null, b.bid_id), ` ${b.company} `, b.price ? h("span", { class: "mono" }, `${b.price} `) : null, btn);
        })));
  }

  function render() {
    allow(submitBtn, ["detailed_review", "deviation_check"].includes(s.phase) && !s.submitted, t("why.phase"));
    allow(signBtn, s.phase === "signing" && !!s.digest, t("why.phase"));
    const mine = s.checkedIn[me];
    const member = s.committee.find((/** @type {any} */ m) => m.expert === me);
    if (candidate.options.length !== s.committee.length) {
      fill(candidate, s.committee.map((/** @type {any} */ m) => h("option", { value: m.expert }, m.name || m.expert)));
    }
    fill(body,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, t("field.session"), " ", id), phasePill(s.phase)),
      s.pause ? h("div", { class: "notice" }, t("expert.paused"), s.pause.reason || "") : null,
      s.warnings.length ? h("div", { class: "warning", id: "warning" }, t("expert.warning"), s.warnings[s.warnings.length - 1].text) : null,
      fewValidBanner(s),
      facts([
        [t("expert.venue"), member ? s.venues[member.venue]?.name || member.venue : "—"],
        [t("expert.checkin"), mine ? h("span", { class: "ok", id: "checkin-status" }, t("expert.checked", { seat: mine.seat })) : h("span", { id: "checkin-status" }, t("expert.not_checked"))],
        [t("expert.chair_label"), s.chair ? h("span", { id: "chair-name" }, s.committee.find((/** @type {any} */ m) => m.expert === s.chair)?.name || s.chair) : "—"],
      ]),
      !mine ? card(t("expert.checkin"), h("p", { class: "hint" }, t("expert.token_hint")), h("div", { class: "toolbar" }, h("label", null, t("expert.seat"), seat), tokenBtn), token) : null,
      documents(),
      standingsCard(s),
      s.phase === "chair_election" ? card(t("expert.chair"), h("div", { class: "toolbar" }, candidate, voteBtn)) : null,
      s.phase === "preliminary_review" ? preliminary() : null,
      ["detailed_review", "deviation_check"].includes(s.phase) ? sheet() : null,
      deviations(),
      report(),
    );
  }
  ctx.follow(stream, (ev) => { foldSession(s, ev, me); render(); });
  render();
}
