/**
 * Expert workspace (评标专家): check-in (the code the expert's key signs, shown as text with a
 * copy button and as a QR image for the site operator), chair vote, the preliminary review,
 * the score sheet of every scored criterion on its scale (ranges, steps, fixed values,
 * deduction items, chair-only items: only allowed figures can be entered), submission,
 * deviation reasons, clarifications (澄清) asked of a bidder, signing the report, and the
 * report's downloads. Every signed action is confirmed in a dialog showing what is signed.
 * @module views/expert
 */
import { t } from "../i18n.js";
import { b64u, signJson } from "../keys.js";
import { admits, allowedText, listedValues } from "../scale.js";
import { emptySession, foldSession, passFailCriteria, scoredBids, scoredCriteria } from "../session.js";
import { act, beijing, CANCELLED, card, confirmAction, countdown, fill, h, table, toast } from "../ui.js";
import { allow, downloadsCard, facts, fewValidBanner, phasePill, picker, standingsCard } from "./common.js";

const REVIEW = ["preliminary_review", "detailed_review", "deviation_check"];

/** A criterion's heading on the sheet: its name and what may be entered. @param {any} c */
function criterionHead(c) {
  const what = c.kind === "deduction" || c.entry === "deduction" ? t("score.deduct", { allowed: allowedText(c) }) : allowedText(c);
  return `${c.name}（${what}）${c.scored_by === "chair" ? t("score.chair_only") : ""}`;
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
  const token = h("div", { class: "token mono", id: "checkin-token", hidden: true });
  const qr = h("div", { class: "qr", id: "checkin-qr", hidden: true });
  const copyBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "copy-token", hidden: true }, t("checkin.copy")));
  copyBtn.onclick = () => act(copyBtn, async () => {
    try {
      await navigator.clipboard.writeText(token.textContent || "");
    } catch {
      throw Object.assign(new Error(t("checkin.copy_failed")), { code: "clipboard" });
    }
  }, t("checkin.copied"));
  const tokenBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "token-btn" }, t("expert.token")));
  tokenBtn.onclick = () => act(tokenBtn, async () => {
    const where = seat.value.trim();
    if (!where) {
      seat.classList.add("invalid");
      seat.focus();
      throw Object.assign(new Error(t("checkin.seat_required")), { code: "seat_required" });
    }
    seat.classList.remove("invalid");
    const statement = { purpose: "evalroom-check-in", session: stream, expert: me, seat: where };
    const sig = await signJson(conn.key, statement);
    const json = JSON.stringify({ expert: me, seat: where, sig });
    const code = "evalroom-checkin:" + b64u(new TextEncoder().encode(json));
    fill(token, code);
    token.hidden = false;
    copyBtn.hidden = false;
    // The node draws the code as a QR image (segno); the code itself is no secret.
    const r = await fetch(`/api/sessions/${encodeURIComponent(id)}/checkin-qr`, {
      method: "POST",
      headers: { authorization: `Bearer ${await conn.ensureToken()}`, "content-type": "application/json", "accept-language": document.documentElement.lang || "zh-CN" },
      body: JSON.stringify({ code }),
    });
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      throw Object.assign(new Error(data.message || t("checkin.qr_failed")), { code: data.code || `http_${r.status}` });
    }
    const url = URL.createObjectURL(await r.blob());
    fill(qr, h("img", { src: url, alt: t("checkin.qr_alt"), width: 200, height: 200 }));
    qr.hidden = false;
  }, "");
  const candidate = /** @type {HTMLSelectElement} */ (h("select", { id: "chair-candidate", "aria-label": t("expert.chair") }));
  const voteBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "vote-btn" }, t("expert.vote")));
  voteBtn.onclick = () => act(voteBtn, () => conn.command(stream, "session.vote_chair", { candidate: candidate.value }));
  const saveBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "save-scores" }, t("expert.save")));
  /** The save in flight, if any: submitting waits for it, so nothing is signed twice. */
  /** @type {Promise<any>} */ let saving = Promise.resolve();
  saveBtn.onclick = () => act(saveBtn, () => (saving = saveScores()), "");
  const submitBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "submit-scores" }, t("expert.submit")));
  submitBtn.onclick = () => act(submitBtn, async () => {
    await saving.catch(() => undefined);
    if ((await saveScores()) === CANCELLED) return CANCELLED;
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
  // The chair closes the deviation review (偏离复核) once every deviation is explained.
  const closeDevBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "close-deviation" }, t("expert.dev_close")));
  closeDevBtn.onclick = () => act(closeDevBtn, () => conn.command(stream, "session.close_phase", { phase: "deviation_check" }));

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
    if (!todo.length) return CANCELLED;
    const names = Object.fromEntries(passFailCriteria(s).map((/** @type {any} */ c) => [c.id, c.name]));
    const bodies = todo.map((v) => (v.pass ? { bid: v.bid, criterion: v.criterion, pass: true } : v));
    if (!(await confirmAction({ title: t("expert.prelim_save"), lead: t("expert.prelim_hint"),
      items: todo.map((v) => /** @type {[string, any]} */ ([`${v.bid} ${names[v.criterion] || v.criterion}`,
        v.pass ? t("expert.pass") : `${t("expert.fail")}${t("colon")}${v.reason}`])),
      details: { stream, type: "session.preliminary", bodies } }))) return CANCELLED;
    for (const body of bodies) await conn.command(stream, "session.preliminary", body, { sign: true });
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

  /** @type {Record<string, any>} criterion by id, for the sheet's inputs */
  let byId = {};

  /** Sign and send every figure changed on the sheet, after checking each against its
   * criterion's scale and a dialog listing what is signed. Returns CANCELLED if declined. */
  async function saveScores() {
    /** @type {{key: string, bid: string, criterion: string, value: string}[]} */
    const todo = [];
    for (const [key, input] of Object.entries(inputs)) {
      const [bid, criterion] = key.split("/");
      const value = input.value.trim();
      if (!value || input.disabled || (saved[key] ?? s.myScores[bid]?.[criterion]) === value) continue;
      const c = byId[criterion];
      if (!c || !admits(value, c)) {
        input.classList.add("invalid");
        input.focus();
        const message = c && !c.scale && c.kind === "expert" ? t("expert.invalid", { max: c.max_points })
          : t("score.not_allowed", { criterion: c?.name || criterion, bid, allowed: c ? allowedText(c) : "" });
        throw Object.assign(new Error(message), { code: "score_not_allowed" });
      }
      todo.push({ key, bid, criterion, value });
    }
    if (!todo.length) return 0;
    if (!(await confirmAction({ title: t("expert.save"), lead: t("score.hint"),
      items: todo.map((x) => /** @type {[string, any]} */ ([`${x.bid} ${byId[x.criterion]?.name || x.criterion}`, x.value])),
      details: { stream, type: "session.score", bodies: todo.map(({ bid, criterion, value }) => ({ bid, criterion, score: value })) } }))) return CANCELLED;
    for (const x of todo) {
      await conn.command(stream, "session.score", { bid: x.bid, criterion: x.criterion, score: x.value }, { sign: true });
      saved[x.key] = x.value;
    }
    toast(t("expert.saved", { n: todo.length }));
    return todo.length;
  }

  /** One cell's input: a list of the allowed figures where they can be listed, else a field
   * that marks anything outside the range. @param {string} bid @param {any} c */
  function scoreInput(bid, c) {
    const listed = listedValues(c);
    const attrs = { id: `score-${bid}-${c.id}`, "aria-label": `${bid} ${criterionHead(c)}`, "data-max": c.max_points, "data-allowed": allowedText(c) };
    if (listed) {
      return /** @type {HTMLSelectElement} */ (h("select", { ...attrs, onchange: (/** @type {any} */ e) => (e.target.dataset.dirty = "1") },
        h("option", { value: "" }, "—"), listed.map((v) => h("option", { value: v }, v))));
    }
    return /** @type {HTMLInputElement} */ (h("input", {
      ...attrs, inputmode: "decimal", autocomplete: "off",
      oninput: (/** @type {any} */ e) => (e.target.dataset.dirty = "1") && e.target.classList.toggle("invalid", !!e.target.value && !admits(e.target.value.trim(), c)),
    }));
  }

  function sheet() {
    const criteria = scoredCriteria(s);
    byId = Object.fromEntries(criteria.map((/** @type {any} */ c) => [c.id, c]));
    const locked = s.submitted;
    const rows = scoredBids(s).map((/** @type {string} */ bid) => ({
      attrs: { "data-bid": bid },
      cells: [h("span", { class: "mono" }, bid), ...criteria.map((/** @type {any} */ c) => {
        const key = `${bid}/${c.id}`;
        const input = (inputs[key] ||= /** @type {HTMLInputElement} */ (scoreInput(bid, c)));
        // Not typed into here: show what the log says (scores replay after the sheet appears).
        if (!input.dataset.dirty && document.activeElement !== input) input.value = saved[key] ?? s.myScores[bid]?.[c.id] ?? "";
        const notMine = c.scored_by === "chair" && s.chair !== me;
        input.disabled = locked || notMine;
        if (notMine) input.title = t("score.chair_only");
        return input;
      })],
    }));
    return card(t("expert.sheet"),
      h("p", { class: "hint" }, t("score.hint")),
      table([t("col.number"), ...criteria.map(criterionHead)], rows, { class: "grid sheet", id: "score-sheet" }),
      h("div", { class: "toolbar" }, locked ? h("span", { class: "ok", id: "submitted" }, t("expert.submitted")) : [saveBtn, submitBtn]));
  }

  /** @type {Record<string, HTMLInputElement>} deviation reasons being typed, kept across renders */
  const reasonInputs = {};
  function deviations() {
    const mine = s.deviations.filter((/** @type {any} */ d) => d.expert === me);
    if (!mine.length) return null;
    return card(t("expert.deviation"), h("p", { class: "hint" }, t("dev.hint")), h("ul", { class: "objections", id: "deviations" }, mine.map((/** @type {any} */ d) => {
      const key = `${d.bid}/${d.criterion}`;
      const name = byId[d.criterion]?.name || s.method?.criteria?.find((/** @type {any} */ c) => c.id === d.criterion)?.name || d.criterion;
      const done = s.reasons[me]?.[key];
      const mean = /^-?\d+(\.\d+)?$/.test(String(d.others_mean)) ? Number(d.others_mean).toFixed(2) : d.others_mean;
      const item = t("expert.deviation_item", { bid: d.bid, criterion: name, score: d.score, mean });
      if (done) return h("li", { "data-deviation": key }, item, t("colon"), h("span", { class: "ok dev-done" }, done));
      const input = (reasonInputs[key] ||= /** @type {HTMLInputElement} */ (h("input", { id: `dev-reason-${d.bid}-${d.criterion}`, "aria-label": `${item} ${t("expert.reason")}`, placeholder: t("expert.reason") })));
      const b = /** @type {HTMLButtonElement} */ (h("button", { class: "primary dev-send", type: "button" }, t("dev.send")));
      allow(b, s.phase === "deviation_check" && !s.pause, t("why.phase"));
      b.onclick = () => act(b, async () => {
        const reason = input.value.trim();
        if (!reason) {
          input.classList.add("invalid");
          input.focus();
          throw Object.assign(new Error(t("dev.reason_required")), { code: "reason_required" });
        }
        const body = { bid: d.bid, criterion: d.criterion, reason };
        if (!(await confirmAction({ title: t("expert.deviation"), items: [[t("field.session"), id], [t("dev.item"), item], [t("expert.reason"), reason]],
          details: { stream, type: "session.deviation_reason", body } }))) return CANCELLED;
        await conn.command(stream, "session.deviation_reason", body, { sign: true });
      });
      return h("li", { "data-deviation": key }, item, h("div", { class: "toolbar" }, h("label", null, t("expert.reason"), input), b));
    })));
  }

  // Clarifications (澄清): the expert asks a bidder; the supervisor approves; the bidder answers.
  const clarCompany = /** @type {HTMLSelectElement} */ (h("select", { id: "clar-company" }));
  const clarQuestion = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "clar-question", rows: 3 }));
  const clarMinutes = /** @type {HTMLInputElement} */ (h("input", { id: "clar-minutes", type: "number", min: 1, max: 1440, step: 1, value: "30", inputmode: "numeric" }));
  const askBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "clar-ask" }, t("eclar.ask")));
  askBtn.onclick = () => act(askBtn, async () => {
    const question = clarQuestion.value.trim();
    const minutes = Number(clarMinutes.value);
    if (!clarCompany.value) throw Object.assign(new Error(t("eclar.company_required")), { code: "invalid" });
    if (!question) {
      clarQuestion.classList.add("invalid");
      clarQuestion.focus();
      throw Object.assign(new Error(t("eclar.question_required")), { code: "invalid" });
    }
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440) {
      clarMinutes.classList.add("invalid");
      throw Object.assign(new Error(t("eclar.minutes_invalid")), { code: "invalid" });
    }
    const body = { company: clarCompany.value, question, deadline_seconds: minutes * 60 };
    const bid = s.bids.find((/** @type {any} */ b) => b.company === body.company);
    if (!(await confirmAction({ title: t("eclar.ask"), signed: false, lead: t("eclar.ask_lead"), okText: t("eclar.ask"),
      items: [[t("field.session"), id], [t("eclar.company"), bid ? `${bid.bid_id} ${bid.company}` : body.company], [t("eclar.question"), question], [t("eclar.minutes"), String(minutes)]],
      details: { stream, type: "session.clarify_ask", body } }))) return CANCELLED;
    await conn.command(stream, "session.clarify_ask", body);
    clarQuestion.value = "";
  }, t("eclar.asked"));

  function clarifications() {
    if (!REVIEW.includes(s.phase) && !Object.keys(s.clarifications).length) return null;
    if (clarCompany.options.length !== s.bids.length) {
      fill(clarCompany, s.bids.map((/** @type {any} */ b) => h("option", { value: b.company }, `${b.bid_id} ${b.company}`)));
    }
    allow(askBtn, REVIEW.includes(s.phase) && !s.pause, t("why.phase"));
    const list = Object.values(s.clarifications);
    return card(t("eclar.title"),
      REVIEW.includes(s.phase) ? h("div", { class: "form-grid" },
        h("label", null, t("eclar.company"), clarCompany), h("label", null, t("eclar.question"), clarQuestion),
        h("label", null, t("eclar.minutes"), clarMinutes), h("div", { class: "toolbar" }, askBtn)) : null,
      list.length ? h("ul", { class: "clar-list", id: "expert-clarifications" }, list.map((/** @type {any} */ c) =>
        h("li", { "data-id": c.id, "data-status": c.status },
          h("div", { class: "clar-q" }, h("strong", null, c.company, t("colon")), c.question, " ", h("span", { class: `badge clar-${c.status}` }, t(`eclar.status_${c.status}`))),
          c.deadline ? h("div", { class: "hint" }, t("eclar.deadline"), " ", beijing(c.deadline),
            c.status === "approved" ? [" · ", t("clar.left"), " ", countdown(c.deadline, "clar.expired", { class: "countdown mono" })] : null) : null,
          c.answer ? h("div", { class: "clar-a" }, h("strong", null, t("eclar.answer"), t("colon")), c.answer) : null,
          c.rejection || c.reason ? h("div", { class: "hint" }, t("eclar.rejected_because"), " ", c.rejection || c.reason) : null))) : null);
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
    const paused = !!s.pause;
    const mine = s.checkedIn[me];
    allow(tokenBtn, s.phase === "check_in" && !mine, t("why.phase"));
    allow(voteBtn, s.phase === "chair_election" && !paused, t("why.phase"));
    allow(prelimBtn, s.phase === "preliminary_review" && !paused, t("why.phase"));
    allow(closePrelimBtn, s.phase === "preliminary_review" && !paused, t("why.phase"));
    allow(saveBtn, s.phase === "detailed_review" && !s.submitted && !paused, t("why.phase"));
    allow(submitBtn, s.phase === "detailed_review" && !s.submitted && !paused, t("why.phase"));
    allow(signBtn, s.phase === "signing" && !!s.digest && !paused, t("why.phase"));
    allow(closeDevBtn, s.phase === "deviation_check" && !paused, t("why.phase"));
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
      !mine ? card(t("expert.checkin"), h("p", { class: "hint" }, t("checkin.hint")),
        h("div", { class: "toolbar" }, h("label", null, t("expert.seat"), seat), tokenBtn),
        h("div", { class: "checkin-code" }, qr, h("div", null, token, h("div", { class: "toolbar" }, copyBtn)))) : null,
      documents(),
      standingsCard(s),
      s.phase === "chair_election" ? card(t("expert.chair"), h("div", { class: "toolbar" }, h("label", null, t("expert.chair"), candidate), voteBtn)) : null,
      s.phase === "preliminary_review" ? preliminary() : null,
      ["detailed_review", "deviation_check"].includes(s.phase) ? sheet() : null,
      deviations(),
      s.phase === "deviation_check" && s.chair === me ? card(t("expert.dev_close"), h("p", { class: "hint" }, t("expert.dev_close_hint")), closeDevBtn) : null,
      clarifications(),
      report(),
      s.report ? downloadsCard(conn, id, s) : null,
    );
  }
  ctx.follow(stream, (ev) => { foldSession(s, ev, me); render(); });
  render();
}
