/**
 * Agency console (招标代理): set a tender up from a form (views/agency_setup.js: the rules,
 * the method, the opening key split to the keyholders), appoint its participants, publish it,
 * run the opening ceremony, then follow the evaluation's phase and progress only (the agency
 * never sees a score). The supervising authority and the platform's admin open this page for
 * the tender's appointments only (supervisors, site operators).
 * @module views/agency
 */
import { eventName, phaseName, t } from "../i18n.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, confirmAction, card, clock, countdown as countdownEl, fill, h, table } from "../ui.js";
import { allow, downloadsCard, envelopeName, facts, roleName, failureBanner, phasePill, picker, readOutTable, remaining, statusTable } from "./common.js";
import { madeKeys, setupForm, shareDownloads } from "./agency_setup.js";
import { handoverCard } from "./handover.js";

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const tender = ctx.params.get("tender") || "";
  const session = ctx.params.get("session") || (tender ? `${tender}-S1` : "");
  const body = h("div", { class: "content" });
  const newLink = h("a", { href: "#/agency?new=1", id: "setup-open", class: "button secondary" }, t("setup.heading"));
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("agency.title"))),
    h("div", { class: "cols" }, h("aside", { class: "side" }, card(t("field.tender"), picker("agency", "tender", t("field.tender"), tender), h("p", null, newLink))), body));
  if (!tender) {
    // The form is the platform-registered agency's; an appointer picks a tender instead.
    myPlatformRoles(conn).then((roles) => {
      if (!body.isConnected) return;
      if (roles === null || roles.has("agency")) {
        fill(body, setupForm(ctx, (created) => { location.hash = `#/agency?tender=${encodeURIComponent(created)}`; }));
      } else fill(body, h("p", { class: "hint", id: "pick-hint" }, t("setup.pick_to_appoint")));
    });
    return;
  }
  const stream = `tender:${tender}`;
  const s = emptyTender();
  /** @type {Record<string, string>} */ const answers = {};
  // The hand-over form, made once the record is complete (kept across renders: it holds input).
  /** @type {HTMLElement|null} */ let handover = null;
  let sessionLive = false;

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
  const publish = /** @type {HTMLButtonElement} */ (h("button", { id: "publish-btn", class: "primary", type: "button" }, t("agency.publish")));
  publish.onclick = () => act(publish, async () => {
    const c = s.config || {};
    if (!(await confirmAction({
      title: t("setup.publish_title"),
      lead: t("setup.publish_lead"),
      signed: false,
      okText: t("agency.publish"),
      items: [
        [t("confirm.stream"), s.title || tender],
        [t("setup.opening_at"), c.opening_at ? beijing(c.opening_at) : "—"],
        [t("setup.envelopes"), (c.envelopes || []).map(envelopeName).join(" + ") || "—"],
        [t("setup.granted"), grants.map((g) => `${roleName(g.role)} ${g.user}${g.venue ? "@" + g.venue : ""}`).join("；") || "—"],
      ],
      details: { stream, type: "tender.publish", body: {} },
    }))) return CANCELLED;
    return conn.command(stream, "tender.publish", {});
  }, t("setup.published"));
  /** @type {{user: string, role: string, venue: string}[]} */ const grants = [];
  const appoint = grantsCard(ctx, stream, () => s, () => grants);
  const sharesBox = h("div", { id: "shares-box" });
  const live = h("div");
  const progress = h("div");
  fill(body, live, sharesBox, appoint.el, progress);
  const made = madeKeys.get(tender);
  if (made) {
    const done = h("button", { type: "button", class: "secondary", id: "shares-done" }, t("setup.shares_done"));
    done.onclick = () => { madeKeys.delete(tender); fill(sharesBox); };
    fill(sharesBox, card(t("setup.shares_title"), h("p", { class: "notice" }, t("setup.shares_warn")), shareDownloads(tender, made, made.keyholders), done));
  }
  const countdown = h("span", { class: "mono" }, "—");

  /** Each step of the opening is offered only when it can be taken. */
  function gate() {
    // Only the tender's own agency runs its opening (an appointer sees the buttons disabled).
    const mine = !s.agency || s.agency === conn.user;
    const why = mine ? t("why.phase") : t("setup.why_not_agency");
    const running = mine && s.phase === "opening" && !!s.stage;
    const [start, close, readout, sign] = ["start-btn", "close-btn", "readout-btn", "sign-btn"].map(
      (x) => /** @type {HTMLButtonElement} */ (controls.querySelector(`#${x}`)));
    allow(start, mine && (s.phase === "bidding" || (s.phase === "opening" && !s.stage)), why);
    allow(close, running && !s.windowClosed, why);
    allow(readout, running && !!s.windowClosed && !s.readOut, why);
    allow(sign, running && !!s.readOut && !s.recordSigned.includes("agency"), s.recordSigned.includes("agency") ? t("why.done") : why);
  }

  function render() {
    const mine = !!s.agency && s.agency === conn.user;
    publish.hidden = !mine || (s.phase !== "draft" && s.phase !== "");
    allow(publish, mine && s.phase === "draft", t("why.phase"));
    gate();
    appoint.render();
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
      s.config ? configFacts(s.config) : null,
      card(t("agency.run"), controls, s.stage ? statusTable(s) : h("p", { class: "hint" }, t("agency.start_hint"))),
      s.readOut ? card(t("bidder.readout"), readOutTable(s)) : null,
      s.objections.length ? card(t("agency.objections"), h("ul", { class: "objections" }, s.objections.map((/** @type {any} */ o) => objectionItem(o)))) : null,
      mine && s.phase === "opened" && !sessionLive ? (handover ||= handoverCard(ctx, tender, s, () => sessionLive)) : null,
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
  ctx.follow(stream, (ev) => {
    foldTender(s, ev);
    if (ev.type === "tender.created") s.agency = ev.payload?.agency || ev.actor;
    if (ev.type === "role.granted") grants.push(ev.payload);
    render();
  });
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
      h("ul", { class: "feed compact" }, ev.log.slice(-8).reverse().map((e) => h("li", { "data-type": e.type }, clock(e.at), " ", eventName(e.type) || phaseName(e.payload?.phase || ""))))),
      // Once the evaluation is closed the agency may have the report (HTML, PDF); never the scores before.
      ev.phase === "closed" ? downloadsCard(conn, session, { report: true }) : null);
  }
  ctx.follow(sessionStream, (e) => {
    if (e.type === "session.phase") ev.phase = e.payload.phase;
    if (e.type === "session.created") { ev.phase = "draw"; sessionLive = true; render(); }
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


/**
 * The published rules at a glance: envelopes by name, the failure rule, the keyholders, the
 * control price and the method's criteria.
 * @param {any} c the `tender.configured` payload
 */
function configFacts(c) {
  const cp = c.sections?.[0]?.control_price;
  const criteria = c.method?.criteria || [];
  return h("details", { class: "card", id: "tender-rules" }, h("summary", null, t("setup.rules")),
    facts([
      [t("setup.envelopes"), (c.envelopes || []).map(envelopeName).join(" + ")],
      [t("setup.min_bids"), t("setup.min_bids_value", { n: c.min_bids })],
      [t("setup.few_valid"), t(`few.${c.few_valid || "continue"}`)],
      [t("setup.failure_rule"), t(c.failure_rule === "reject" ? "setup.rule_reject" : "setup.rule_committee")],
      [t("setup.keyholders"), t("setup.threshold_value", { k: c.threshold?.k, n: c.threshold?.n, users: (c.keyholders || []).join("、") || "—" })],
      [t("setup.limit"), cp ? cp.limit + (cp.floor ? ` · ${t("setup.floor_amount")} ${cp.floor}` : "") + (cp.floor_ratio ? ` · ${t("setup.floor_ratio")} ${cp.floor_ratio}` : "") : t("setup.none")],
      [t("setup.method"), criteria.map((/** @type {any} */ x) => `${x.name}${x.max_points ? " " + x.max_points : ""}`).join("；") || "—"],
    ]));
}

/** Who may appoint which role, and in which phases (evalroom/domain/duties.py APPOINTMENTS). */
const APPOINTERS = /** @type {Record<string, {by: string, phases: string[]}>} */ ({
  supervisor: { by: "authority", phases: ["draft", "bidding", "opening", "opened", "evaluation"] },
  operator: { by: "admin", phases: ["draft", "bidding", "opening", "opened", "evaluation"] },
  tenderer: { by: "agency", phases: ["draft"] },
});

/**
 * 任命: grant a participant a role in the tender (`tender.grant`, as `evalroom-agency grant`
 * sends it), each in a dialog showing what is sent. The keyholders are named in the tender's
 * rules (the set-up form), so they are listed, not granted here. A role is offered only to
 * whoever may appoint it, in the phases it may be appointed in.
 * @param {import("../app.js").ViewContext} ctx @param {string} stream
 * @param {() => any} state @param {() => {user: string, role: string, venue: string}[]} granted
 */
function grantsCard(ctx, stream, state, granted) {
  /** @type {Set<string>} */ let platform = new Set();
  const user = /** @type {HTMLInputElement} */ (h("input", { id: "grant-user", autocomplete: "off", "aria-describedby": "grant-error" }));
  const role = /** @type {HTMLSelectElement} */ (h("select", { id: "grant-role" },
    Object.keys(APPOINTERS).map((r) => h("option", { value: r }, roleName(r)))));
  const venue = /** @type {HTMLInputElement} */ (h("input", { id: "grant-venue", autocomplete: "off", placeholder: "lanzhou" }));
  const venueLabel = h("label", { for: "grant-venue" }, t("setup.grant_venue"), venue);
  const error = h("span", { class: "field-error error", id: "grant-error", role: "alert" });
  const btn = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "primary", id: "grant-btn" }, t("setup.grant_btn")));
  const list = h("div", { id: "grant-list" });
  const el = card(t("setup.grants"), h("p", { class: "hint" }, t("setup.grants_hint")),
    h("div", { class: "row" }, h("label", { for: "grant-user" }, t("setup.grant_user"), user),
      h("label", { for: "grant-role" }, t("setup.grant_role"), role), venueLabel),
    h("div", { class: "toolbar" }, btn, error), list);
  el.id = "grants-card";
  myPlatformRoles(ctx.conn).then((roles) => { platform = roles || new Set(); render(); });

  function render() {
    const s = state();
    const mine = s.agency === ctx.conn.user;
    /** @param {string} r */
    // An appointer holding no role in the tender does not see its stream: the phase is then
    // unknown here and the server decides.
    const may = (r) => (APPOINTERS[r].by === "agency" ? mine : platform.has(APPOINTERS[r].by)) &&
      (s.phase ? APPOINTERS[r].phases.includes(s.phase) : APPOINTERS[r].by !== "agency");
    for (const opt of role.options) opt.disabled = !may(opt.value);
    if (role.selectedOptions[0]?.disabled) {
      const first = [...role.options].find((o) => !o.disabled);
      if (first) role.value = first.value;
    }
    venueLabel.hidden = role.value !== "operator";
    allow(btn, may(role.value), t("setup.why_grant"));
    const keyholders = s.config?.keyholders || [];
    fill(list, table([t("setup.grant_user"), t("setup.grant_role"), t("setup.grant_venue")], [
      ...keyholders.map((/** @type {string} */ u) => ({ attrs: { "data-role": "keyholder", "data-user": u }, cells: [u, roleName("keyholder"), t("setup.by_rules")] })),
      ...appointed().map((g) => ({ attrs: { "data-role": g.role, "data-user": g.user }, cells: [g.user, roleName(g.role), g.venue || "—"] })),
    ], { class: "grid", id: "grant-table" }));
  }
  /** @type {{user: string, role: string, venue: string}[]} appointments acknowledged to this page */
  const sent = [];
  /** What the stream shows appointed, and what this page appointed (an appointer holding no
   * role in the tender does not see its stream). */
  function appointed() {
    const all = [...granted(), ...sent];
    return all.filter((g, i) => all.findIndex((x) => x.user === g.user && x.role === g.role && x.venue === g.venue) === i);
  }
  role.onchange = render;
  btn.onclick = () => act(btn, async () => {
    error.textContent = "";
    user.removeAttribute("aria-invalid");
    const body = { user: user.value.trim(), role: role.value, venue: role.value === "operator" ? venue.value.trim() : "" };
    if (!body.user) {
      user.setAttribute("aria-invalid", "true");
      error.textContent = t("setup.err.required", { label: t("setup.grant_user") });
      user.focus();
      return CANCELLED;
    }
    if (role.value === "operator" && !body.venue) {
      venue.setAttribute("aria-invalid", "true");
      error.textContent = t("setup.err.required", { label: t("setup.grant_venue") });
      venue.focus();
      return CANCELLED;
    }
    if (!(await confirmAction({
      title: t("setup.grant_title"),
      lead: t("setup.grant_lead"),
      signed: false,
      okText: t("setup.grant_btn"),
      items: [
        [t("confirm.stream"), state().title || stream],
        [t("setup.grant_user"), body.user],
        [t("setup.grant_role"), roleName(body.role)],
        body.venue ? [t("setup.grant_venue"), body.venue] : null,
      ].filter(Boolean),
      details: { stream, type: "tender.grant", body },
    }))) return CANCELLED;
    try {
      await ctx.conn.command(stream, "tender.grant", body);
    } catch (err) {
      error.textContent = t("error", { message: /** @type {any} */ (err).message });
      throw err;
    }
    sent.push(body);
    user.value = "";
    venue.value = "";
    render();
  }, t("setup.granted_ok"));
  return { el, render };
}

/**
 * The user's platform roles (`GET /api/me`), or null when the server cannot say.
 * @param {import("../connection.js").Connection} conn @returns {Promise<Set<string>|null>}
 */
async function myPlatformRoles(conn) {
  try {
    const r = await fetch("/api/me", { headers: { authorization: `Bearer ${await conn.ensureToken()}` } });
    return r.ok ? new Set((await r.json()).platform || []) : null;
  } catch {
    return null;
  }
}
