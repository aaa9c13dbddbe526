/**
 * Supervisor dashboard (监督): every venue's presence, phase and progress, the live event
 * feed, pause/resume, clarification approval, live scores and a score-spread chart (SVG); the
 * bids rejected at the opening by the control price, the few-valid decision, and the award's
 * progress once the session closed (read-only); the tender's red flags (风险提示, live, with
 * their evidence: views/signals.js), also alone with `?tender=T` before a session exists.
 * The live feed comes with a log watch (as `clients/logwatch.py`): on every (re)connect and
 * every 10 s the page verifies the session's and its tender's latest signed checkpoints and
 * that each extends the one it verified before (RFC 9162 consistency), and says so.
 * @module views/supervisor
 */
import { checkDraw, fetchCheckedPool, keepSeed, keptSeed, newSeed, sha256Hex, unhex } from "../draw.js";
import { eventName, phaseName, t } from "../i18n.js";
import { checkLogConsistency } from "../logproof.js";
import { emptySession, expertCriteria, foldSession, scoredBids } from "../session.js";
import { act, CANCELLED, card, clock, confirmAction, describe, fill, h, table } from "../ui.js";
import { progressBar } from "./agency.js";
import { awardCard } from "./award.js";
import { allow, downloadsCard, fewValidBanner, phasePill, picker, standingsCard } from "./common.js";
import { mountOpeningRecord } from "./opening_record.js";
import { signalsCard } from "./signals.js";

const SVG = "http://www.w3.org/2000/svg";
const LOG_CHECK_MS = 10_000;

/** @param {string} tag @param {Record<string, any>} attrs @param {...any} kids */
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k);
  return el;
}

/**
 * Per bid: each expert's total of the expert-scored criteria as a dot, the range as a bar,
 * the mean as a tick.
 * @param {any} s
 */
export function spreadChart(s) {
  const criteria = expertCriteria(s);
  const max = criteria.reduce((/** @type {number} */ a, /** @type {any} */ c) => a + Number(c.max_points || 0), 0) || 100;
  const bids = scoredBids(s);
  const W = 760, left = 70, right = 170, rowH = 30, top = 24;
  const x = (/** @type {number} */ v) => left + ((W - left - right) * v) / max;
  const H = top + rowH * bids.length + 10;
  const root = svg("svg", { class: "spread", id: "spread-chart", viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img" });
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    root.append(svg("line", { x1: x(v), x2: x(v), y1: 14, y2: top + rowH * bids.length, stroke: "#e5e8ec" }),
      svg("text", { x: x(v), y: 10, "text-anchor": "middle" }, String(Number(v.toFixed(1)))));
  }
  bids.forEach((/** @type {string} */ bid, /** @type {number} */ i) => {
    const y = top + rowH * i + rowH / 2;
    const totals = Object.values(s.scores).map((/** @type {any} */ sheet) =>
      criteria.reduce((/** @type {number} */ a, /** @type {any} */ c) => a + Number(sheet[bid]?.[c.id] || 0), 0));
    if (!totals.length) return;
    const lo = Math.min(...totals), hi = Math.max(...totals);
    const mean = totals.reduce((a, b) => a + b, 0) / totals.length;
    const wide = hi - lo > 0.3 * mean;
    root.append(svg("text", { x: 0, y: y + 4 }, bid),
      svg("line", { x1: x(lo), x2: x(hi), y1: y, y2: y, stroke: wide ? "#c62828" : "#0e63ad", "stroke-width": 6, "stroke-linecap": "round", opacity: 0.25 }),
      ...totals.map((v) => svg("circle", { cx: x(v), cy: y, r: 4.5, fill: wide ? "#c62828" : "#0e63ad" })),
      svg("line", { x1: x(mean), x2: x(mean), y1: y - 9, y2: y + 9, stroke: "#1d2733", "stroke-width": 2 }),
      svg("text", { x: x(hi) + 8, y: y + 4 }, t("sup.mean_range", { mean: mean.toFixed(2), range: (hi - lo).toFixed(2) })));
  });
  return root;
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const id = ctx.params.get("session") || "";
  const tender = ctx.params.get("tender") || "";
  const main = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("sup.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" },
      card(t("field.session"), picker("supervisor", "session", t("field.session"), id)),
      card(t("sup.pick_tender"), picker("supervisor", "tender", t("field.tender"), tender))), main));
  if (!id) {
    // A tender without a session picked: the opening with the record's signature, and the
    // tender's live red flags (signals).
    if (tender) {
      const opening = h("div", { id: "opening-box" });
      fill(main, opening, signalsCard(ctx, tender));
      mountOpeningRecord(opening, ctx, tender);
    }
    return;
  }
  const stream = `session:${id}`;
  /** @type {HTMLElement|null} */ let flags = null;
  const s = emptySession();
  /** @type {any[]} */ let members = [];
  const reason = /** @type {HTMLInputElement} */ (h("input", { id: "pause-reason", placeholder: t("sup.reason"), "aria-label": t("sup.reason") }));
  const pauseBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "danger", type: "button", id: "pause-btn" }, t("sup.pause")));
  pauseBtn.onclick = () => act(pauseBtn, async () => {
    const body = { reason: reason.value.trim() || t("sup.paused_default") };
    if (!(await confirmAction({ title: t("sup.pause"), signed: false, lead: t("confirm.pause_lead"),
      items: [[t("field.session"), id], [t("sup.reason"), body.reason]], details: { stream, type: "session.pause", body } }))) return CANCELLED;
    return conn.command(stream, "session.pause", body);
  });
  const resumeBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "resume-btn" }, t("sup.resume")));
  resumeBtn.onclick = () => act(resumeBtn, () => conn.command(stream, "session.resume"));

  function venues() {
    return h("div", { class: "venues", id: "venues" }, Object.values(s.venues).map((/** @type {any} */ v) => {
      const here = members.filter((m) => (m.venues || []).includes(v.id));
      return h("div", { class: `venue ${here.length ? "up" : "down"}`, "data-venue": v.id },
        h("h3", null, v.name, v.main ? h("em", { class: "tag" }, t("sup.main")) : null),
        h("div", null, here.length ? h("span", { class: "ok" }, `${here.length} ${t("sup.online")}`) : h("span", { class: "error" }, t("sup.offline"))),
        h("div", { class: "who-list" }, here.map((m) => m.name || m.user).join("、")));
    }));
  }

  /** An expert by name (the committee's, else the checked pool's), never by id. @param {string} e */
  function expertName(e) {
    return s.committee.find((/** @type {any} */ m) => m.expert === e)?.name || pool?.names[e] || e;
  }

  // The draw (抽取): the pool checked here, the seed made and kept here, the record checked.
  /** @type {{snapshot: any, digest: string, names: Record<string, string>, count: number}|null} */
  let pool = null;
  /** @type {{check: string, ok: boolean}[]|null} */ let drawChecks = null;
  let checkedFor = "";
  const poolBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "pool-check-btn" }, t("draw.fetch_pool")));
  poolBtn.onclick = () => act(poolBtn, async () => {
    try {
      pool = await fetchCheckedPool(await conn.ensureToken());
      checkDrawn();
    } catch (err) {
      const e = /** @type {any} */ (err);
      if (e.code === "pool_mismatch") throw Object.assign(new Error(t("draw.pool_mismatch", { served: e.served, computed: e.computed })), { code: e.code });
      throw err;
    }
    render();
  }, "");
  const commitBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "commit-seed-btn" }, t("draw.commit")));
  commitBtn.onclick = () => act(commitBtn, async () => {
    if (!pool) throw Object.assign(new Error(t("draw.pool_first")), { code: "pool_required" });
    const { seed, commitment } = await newSeed();
    const body = { commitment, pool_digest: pool.digest };
    if (!(await confirmAction({ title: t("draw.commit"), signed: false, lead: t("draw.commit_lead"), okText: t("draw.commit"),
      items: [[t("field.session"), id], [t("draw.pool"), t("draw.pool_n", { n: pool.count })],
        [t("draw.pool_digest"), h("span", { class: "mono digest" }, pool.digest)], [t("draw.commitment"), h("span", { class: "mono digest" }, commitment)]],
      details: { stream, type: "session.commit_seed", body } }))) return CANCELLED;
    keepSeed(stream, conn.user, JSON.stringify({ commitment, seed })); // kept before anything is published
    try {
      await conn.command(stream, "session.commit_seed", body);
    } catch (err) {
      keepSeed(stream, conn.user, null); // refused: nothing was published
      throw err;
    }
    render();
  });
  const seedFileBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "seed-file-btn" }, t("draw.save_seed")));
  /** The seed this browser keeps for the commitment now published, or null. */
  function heldSeed() {
    try {
      const kept = JSON.parse(keptSeed(stream, conn.user) || "null");
      return kept && kept.commitment === s.seedCommitment?.commitment ? String(kept.seed) : null;
    } catch {
      return null;
    }
  }
  seedFileBtn.onclick = () => {
    const seed = heldSeed();
    if (!seed) return;
    const url = URL.createObjectURL(new Blob([seed + "\n"], { type: "text/plain" }));
    const a = h("a", { href: url, download: `${id}.seed.hex` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  // A seed backup file (as downloaded above, or `evalroom-supervisor commit-seed --out`) is
  // taken back only if it hashes to the published commitment.
  const seedFile = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "seed-file", accept: ".hex,.txt,text/plain" }));
  seedFile.onchange = () => act(null, async () => {
    const text = ((await seedFile.files?.[0]?.text()) || "").trim().toLowerCase();
    seedFile.value = "";
    let ok = false;
    try {
      ok = text.length >= 32 && (await sha256Hex(unhex(text))) === s.seedCommitment?.commitment;
    } catch {
      ok = false;
    }
    if (!ok) throw Object.assign(new Error(t("draw.seed_file_wrong")), { code: "seed_mismatch" });
    keepSeed(stream, conn.user, JSON.stringify({ commitment: s.seedCommitment.commitment, seed: text }));
    render();
  }, t("draw.seed_file_ok"));
  const drawBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "draw-btn" }, t("draw.run")));
  drawBtn.onclick = () => act(drawBtn, async () => {
    const seed = heldSeed();
    if (!seed) throw Object.assign(new Error(t("draw.no_seed")), { code: "seed_unreadable" });
    if (!(await confirmAction({ title: t("draw.run"), signed: false, lead: t("draw.run_lead"), okText: t("draw.run"),
      items: [[t("field.session"), id], [t("draw.commitment"), h("span", { class: "mono digest" }, s.seedCommitment?.commitment || "—")],
        [t("draw.seed"), h("span", { class: "mono digest" }, seed)]],
      details: { stream, type: "session.draw", body: { seed } } }))) return CANCELLED;
    await conn.command(stream, "session.draw", { seed });
  }, "");

  function drawCard() {
    if (!s.phase) return null;
    const drawn = !!s.draw;
    if (!drawn && s.phase !== "draw") return null;
    const held = !!heldSeed();
    allow(poolBtn, true);
    allow(commitBtn, !drawn && !s.seedCommitment && !!pool, t(pool ? "why.phase" : "draw.pool_first"));
    allow(drawBtn, !drawn && !!s.seedCommitment && held, t(held ? "why.phase" : "draw.no_seed"));
    seedFileBtn.hidden = !held || drawn;
    const drawnList = drawn ? table([t("sup.expert"), t("op.specialty"), t("expert.venue"), t("draw.candidates")],
      (s.draw.record?.seats || []).map((/** @type {any} */ seat) => ({ attrs: { "data-expert": seat.expert_id },
        cells: [expertName(seat.expert_id), seat.specialty, s.venues[seat.venue]?.name || seat.venue, String(seat.candidates)] })),
      { class: "grid", id: "drawn-experts" }) : null;
    return card(t("draw.title"),
      s.drawFailed ? h("div", { class: "failure", role: "alert", id: "draw-failed" }, h("strong", null, t("draw.failed")), " ", s.drawFailed.reason || s.drawFailed.code) : null,
      h("ol", { class: "draw-steps", id: "draw-steps" },
        h("li", { class: pool || s.seedCommitment || drawn ? "done" : "" }, h("div", { class: "toolbar" }, poolBtn),
          pool ? h("p", { class: "ok", id: "pool-checked" }, t("draw.pool_ok", { n: pool.count, digest: pool.digest.slice(0, 16) })) : null),
        h("li", { class: s.seedCommitment || drawn ? "done" : "" }, h("div", { class: "toolbar" }, commitBtn, seedFileBtn),
          s.seedCommitment ? h("p", { class: "hint", id: "seed-committed" }, t("draw.committed", { commitment: s.seedCommitment.commitment.slice(0, 16) }),
            held || drawn ? null : h("span", { class: "error" }, " ", t("draw.no_seed"))) : null,
          s.seedCommitment && !held && !drawn ? h("div", { class: "toolbar" }, h("label", null, t("draw.seed_file"), seedFile)) : null),
        h("li", { class: drawn ? "done" : "" }, h("div", { class: "toolbar" }, drawBtn))),
      drawChecks ? h("ul", { class: "plain-list", id: "draw-checks" }, drawChecks.map((c) =>
        h("li", { "data-check": c.check, class: c.ok === null ? "hint" : c.ok ? "ok" : "error" },
          (c.ok === null ? "– " : c.ok ? "✓ " : "✗ ") + t(c.ok === null ? `draw.check_${c.check}_na` : `draw.check_${c.check}`)))) : null,
      drawnList);
  }

  /** Once drawn: the record checked against what this page saw; the kept seed dropped. */
  function checkDrawn() {
    const key = JSON.stringify([s.draw?.record?.seats, s.committee.map((/** @type {any} */ m) => m.expert), pool?.digest]);
    if (!s.draw || checkedFor === key) return;
    checkedFor = key;
    keepSeed(stream, conn.user, null);
    checkDraw(s, pool).then((found) => { if (checkedFor === key) { drawChecks = found; render(); } }).catch((err) => console.error(err));
  }

  function scores() {
    const criteria = expertCriteria(s);
    const bids = scoredBids(s);
    const experts = Object.keys(s.scores);
    if (!experts.length) return h("p", { class: "hint" }, t("sup.none"));
    const heads = [t("sup.expert"), ...bids.flatMap((/** @type {string} */ b) => criteria.map((/** @type {any} */ c) => `${b} ${c.name}`))];
    return table(heads, experts.map((e) => ({
      attrs: { "data-expert": e },
      cells: [expertName(e), ...bids.flatMap((/** @type {string} */ b) => criteria.map((/** @type {any} */ c) =>
        h("span", { class: "num", "data-cell": `${b}/${c.id}` }, s.scores[e]?.[b]?.[c.id] ?? "—")))],
    })), { class: "grid", id: "live-scores" });
  }

  /** @type {Map<string, HTMLInputElement>} text fields, kept across re-renders (focus, typing) */
  const fields = new Map();
  /** @type {Record<string, string>} */ const drafts = {};
  /** @param {string} key @param {string} placeholder @param {string} [id] */
  function draft(key, placeholder, id) {
    let el = fields.get(key);
    if (!el) fields.set(key, (el = /** @type {HTMLInputElement} */ (h("input", { id, placeholder, "aria-label": placeholder }))));
    return el;
  }
  /** @param {string} key */
  const need = (key) => {
    const v = (fields.get(key)?.value || "").trim();
    if (!v) throw Object.assign(new Error(t("sup.reason_required")), { code: "reason_required" });
    return v;
  };
  /** @param {string} key */
  const clear = (key) => { const el = fields.get(key); if (el) el.value = ""; };

  function clarifications() {
    const open = Object.values(s.clarifications).filter((/** @type {any} */ c) => c.status === "asked");
    if (!open.length) return null;
    return card(t("sup.clarifications"), h("ul", { class: "clar-list", id: "sup-clarifications" }, open.map((/** @type {any} */ c) => {
      const ok = /** @type {HTMLButtonElement} */ (h("button", { class: "primary clar-approve", type: "button" }, t("sup.approve")));
      ok.onclick = () => act(ok, () => conn.command(stream, "session.clarify_approve", { id: c.id }));
      const no = /** @type {HTMLButtonElement} */ (h("button", { class: "danger clar-reject", type: "button" }, t("sup.reject")));
      no.onclick = () => act(no, async () => {
        await conn.command(stream, "session.clarify_reject", { id: c.id, reason: need(`clar-${c.id}`) });
        clear(`clar-${c.id}`);
      });
      return h("li", { "data-id": c.id }, h("div", { class: "clar-q" }, h("strong", null, c.company, t("colon")), c.question),
        h("div", { class: "hint" }, t("sup.asked_by", { who: expertName(c.asked_by), n: Math.round(c.deadline_seconds / 60) })),
        h("div", { class: "toolbar" }, ok, draft(`clar-${c.id}`, t("sup.reject_reason")), no));
    })));
  }

  function goback() {
    const g = s.goback;
    if (!g) return null;
    const ok = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "goback-approve" }, t("sup.approve")));
    ok.onclick = () => act(ok, () => conn.command(stream, "session.goback_approve"));
    const no = /** @type {HTMLButtonElement} */ (h("button", { class: "danger", type: "button", id: "goback-reject" }, t("sup.reject")));
    no.onclick = () => act(no, async () => {
      await conn.command(stream, "session.goback_reject", { reason: need("goback") });
      clear("goback");
    });
    return card(t("sup.goback"), h("div", { class: "request", id: "goback-request" },
      t("sup.goback_text", { by: expertName(g.by), from: phaseName(g.from_phase), to: phaseName(g.to_phase) }), h("br"),
      h("strong", null, t("sup.goback_reason")), g.reason),
      h("div", { class: "toolbar" }, ok, draft("goback", t("sup.reject_reason"), "goback-reason"), no));
  }

  function actions() {
    const target = /** @type {HTMLSelectElement} */ (h("select", { id: "warn-target", "aria-label": t("confirm.target"), onchange: (/** @type {any} */ e) => (drafts.warnTarget = e.target.value) },
      h("option", { value: "" }, t("sup.all_experts")),
      s.committee.map((/** @type {any} */ m) => h("option", { value: m.expert }, m.name || m.expert))));
    target.value = drafts.warnTarget || "";
    const warnBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "danger", type: "button", id: "warn-btn" }, t("sup.warn")));
    warnBtn.onclick = () => act(warnBtn, async () => {
      const body = target.value ? { text: need("warn"), expert: target.value } : { text: need("warn") };
      const to = target.value ? s.committee.find((/** @type {any} */ m) => m.expert === target.value)?.name || target.value : t("sup.all_experts");
      if (!(await confirmAction({ title: t("sup.warn"), signed: false, lead: t("confirm.warn_lead"),
        items: [[t("confirm.target"), to], [t("confirm.text"), body.text]], details: { stream, type: "session.warn", body } }))) return CANCELLED;
      await conn.command(stream, "session.warn", body);
      clear("warn");
    });
    const noteBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "note-btn" }, t("sup.annotate")));
    noteBtn.onclick = () => act(noteBtn, async () => {
      const body = { text: need("note") };
      if (!(await confirmAction({ title: t("sup.annotate"), items: [[t("field.session"), id], [t("confirm.text"), body.text]],
        details: { stream, type: "session.annotate", body } }))) return CANCELLED;
      await conn.command(stream, "session.annotate", body, { sign: true });
      clear("note");
    });
    return card(t("sup.actions"),
      h("div", { class: "toolbar" }, reason, pauseBtn, resumeBtn),
      h("div", { class: "toolbar" }, target, draft("warn", t("sup.warn_text"), "warn-text"), warnBtn),
      h("div", { class: "toolbar" }, draft("note", t("sup.note_text"), "note-text"), noteBtn),
      s.notes.length ? h("ul", { class: "notes plain-list", id: "notes" }, s.notes.slice(-5).reverse().map((/** @type {any} */ n) =>
        h("li", null, h("span", { class: "mono hint" }, clock(n.at)), " ", h("span", { class: "badge s-decrypting" }, t("sup.signed_note")), " ", n.text))) : null);
  }

  // The log watch: one status line per followed stream, kept across re-renders.
  const logBox = h("div", { class: "log-status", id: "log-status" });
  /** @type {string[]} */ const watched = [stream];
  /** @type {Map<string, any>} */ const checks = new Map();
  let running = Promise.resolve();
  /** @param {string} trigger "connect" | "reconnect" | "timer" | "tender" */
  function checkLog(trigger) {
    running = running.then(async () => {
      if (!conn.ws) return; // offline: the reconnect checks again
      const token = await conn.ensureToken();
      for (const st of [...watched]) {
        if (checks.get(st)?.state === "forked") continue; // a fork stays reported
        try {
          checks.set(st, { ...(await checkLogConsistency(st, token, conn.user)), trigger });
        } catch (err) {
          const e = /** @type {any} */ (err);
          if (st !== stream && e.code === "not_subscribed_role") { // no role in the tender: not ours to watch
            watched.splice(watched.indexOf(st), 1);
            continue;
          }
          checks.set(st, { state: "error", message: e.message, trigger });
        }
      }
      showLog();
    }).catch((err) => console.error(err));
    return running;
  }
  /** A stream as people name it: 招标项目 T / 评标会话 S. @param {string} st */
  function streamLabel(st) {
    const [kind, name] = st.split(/:(.*)/s);
    return kind === "tender" ? `${t("field.tender")} ${name}` : kind === "session" ? `${t("field.session")} ${name}` : st;
  }
  /** @param {any} r */
  function logText(r) {
    if (r.state === "consistent") return t("sup.log_ok");
    if (r.state === "forked") return `${t("sup.log_forked", { kept: r.kept, shown: r.shown })} — ${t(`sup.log_why_${r.why}`)}`;
    if (r.state === "pending") return t("sup.log_pending");
    if (r.state === "error") return t("sup.log_error", { message: r.message });
    return t("sup.log_checking");
  }
  function showLog() {
    const forked = watched.some((st) => checks.get(st)?.state === "forked");
    logBox.className = `log-status${forked ? " forked" : ""}`;
    fill(logBox, watched.map((st) => {
      const r = checks.get(st) || { state: "checking" };
      return h("div", { class: `log-check ${r.state}`, "data-stream": st, "data-state": r.state,
        "data-size": r.size ?? r.shown, "data-trigger": r.trigger },
      h("span", { class: "log-stream", title: st }, streamLabel(st)), h("span", { class: "log-verdict", title: r.size ? t("sup.log_size", { n: r.size }) : null }, logText(r)));
    }));
  }
  showLog();
  const logTimer = window.setInterval(() => checkLog("timer"), LOG_CHECK_MS);
  ctx.offs.push(() => clearInterval(logTimer));
  ctx.on("resubscribed", () => checkLog("reconnect"));

  function render() {
    const over = ["closed", "sealed", "rescheduled"].includes(s.phase);
    allow(pauseBtn, !!s.phase && !over && !s.pause, t("why.phase"));
    allow(resumeBtn, !!s.pause && !over, t("why.phase"));
    fill(main,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, t("field.session"), " ", id), phasePill(s.phase),
        s.pause ? h("span", { class: "badge s-failed", id: "paused" }, t("sup.paused")) : null),
      fewValidBanner(s),
      flags,
      awardCard(s),
      drawCard(),
      card(t("sup.presence"), venues()),
      standingsCard(s),
      h("div", { class: "cols wide" },
        h("div", { class: "content" },
          goback(),
          clarifications(),
          card(t("progress"),
            table([t("col.step"), t("progress")], Object.values(s.progress).map((p) => [phaseName(p.step), progressBar(p.done, p.of)]), { class: "grid" })),
          card(t("sup.scores"), scores()),
          actions(),
          s.sheets ? card(t("sup.spread"), spreadChart(s)) : null,
          downloadsCard(conn, id, s, { bundle: true })),
        card(t("sup.feed"), logBox, h("ul", { class: "feed", id: "feed" }, s.feed.slice(-40).reverse().map((/** @type {any} */ e) =>
          h("li", { "data-type": e.type }, clock(e.at), h("span", { class: "type", title: e.type }, eventName(e.type)), h("span", null, describe(e, (c) => s.method?.criteria?.find((/** @type {any} */ x) => x.id === c)?.name || c))))))),
    );
  }
  ctx.follow(stream, (ev) => {
    const tender = ev.type === "session.created" && ev.payload?.tender ? `tender:${ev.payload.tender}` : "";
    if (tender && !watched.includes(tender)) {
      watched.push(tender);
      checkLog("tender");
    }
    if (tender && !flags) flags = signalsCard(ctx, tender);
    foldSession(s, ev, conn.user);
    checkDrawn();
    render();
  });
  ctx.on("presence", (/** @type {any} */ msg) => { if (msg.stream === stream) { members = msg.members; render(); } });
  conn.watchPresence(stream);
  render();
  checkLog("connect");
}
