/**
 * Bidder portal (投标人): my tenders, the live opening (sign in, release the per-bid key,
 * status, read-out, confirm or object) and uploading a sealed bid with its signed receipt.
 * @module views/bidder
 */
import { phaseName, t } from "../i18n.js";
import { verifyJson } from "../keys.js";
import { b64, checkReceiptInclusion, sha256 } from "../logproof.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, confirmAction, card, clock, countdown as countdownEl, fill, h, readPicked, toast } from "../ui.js";
import { allow, envelopeName, facts, failureBanner, listTenders, sectionName, phasePill, picker, readOutTable, remaining, roleName, statusTable } from "./common.js";

/** @param {string} user */
function recentKey(user) {
  return `evalroom.tenders.${user}`;
}

/** @param {HTMLElement} root @param {import("../app.js").ViewContext} ctx */
export function mount(root, ctx) {
  const conn = ctx.conn;
  const tender = ctx.params.get("tender") || "";
  const recent = JSON.parse(localStorage.getItem(recentKey(conn.user)) || "[]");
  if (tender && !recent.includes(tender)) {
    recent.unshift(tender);
    localStorage.setItem(recentKey(conn.user), JSON.stringify(recent.slice(0, 12)));
  }
  const joinBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "link", type: "button" }, t("bidder.join")));
  joinBtn.onclick = () => {
    const id = /** @type {HTMLInputElement} */ (root.querySelector("#pick-tender")).value.trim();
    if (!id) return;
    act(joinBtn, () => conn.command(`tender:${id}`, "tender.join")).then(() => {
      location.hash = `#/bidder?tender=${encodeURIComponent(id)}`;
    });
  };
  const list = h("div", { id: "tender-list" });
  /** @type {string|null} the open tender's phase as the list shows it */ let listedPhase = null;
  let alive = true;
  ctx.offs.push(() => { alive = false; });

  /** The server's list (published tenders and the user's own); this browser's list if that fails. */
  async function refresh() {
    let rows;
    try {
      rows = await listTenders(conn);
    } catch {
      if (!alive) return;
      list.dataset.source = "local";
      fill(list, h("p", { class: "hint" }, t("bidder.local_list")),
        h("ul", { class: "tender-list" }, recent.map((/** @type {string} */ id) =>
          h("li", { class: id === tender ? "active" : "", "data-tender": id }, h("a", { href: `#/bidder?tender=${encodeURIComponent(id)}` }, id)))));
      return;
    }
    if (!alive) return;
    listedPhase = rows.find((r) => r.tender === tender)?.phase ?? null;
    const mine = rows.filter((r) => r.roles.length);
    const open = rows.filter((r) => !r.roles.length);
    list.dataset.source = "server";
    fill(list,
      h("h3", null, t("bidder.mine_list")), tenderItems(mine),
      h("h3", null, t("bidder.open_list")), tenderItems(open));
  }

  /** @param {Awaited<ReturnType<typeof listTenders>>} rows */
  function tenderItems(rows) {
    if (!rows.length) return h("p", { class: "hint" }, t("bidder.none"));
    return h("ul", { class: "tender-list" }, rows.map((r) => {
      let action = null;
      if (!r.roles.length && r.phase === "bidding") {
        const b = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary join-btn", type: "button" }, t("bidder.join")));
        b.onclick = () => act(b, () => conn.command(`tender:${r.tender}`, "tender.join"), t("bidder.joined")).then(refresh);
        action = b;
      }
      return h("li", { class: r.tender === tender ? "active" : "", "data-tender": r.tender },
        h("a", { href: `#/bidder?tender=${encodeURIComponent(r.tender)}` },
          h("span", { class: "t-title" }, r.title || r.tender), h("small", { class: "mono" }, r.tender)),
        h("div", { class: "t-meta" },
          h("span", { class: `phase p-${r.phase || "none"}` }, r.phase ? phaseName(r.phase) : "—"),
          h("span", { class: "t-opening" }, r.opening_at ? beijing(r.opening_at) : "—")),
        r.roles.length ? h("div", { class: "t-roles" }, t("bidder.roles"), t("colon"),
          r.roles.map((role) => h("em", { class: "tag", "data-role": role }, roleName(role)))) : null,
        action);
    }));
  }

  const side = h("aside", { class: "side" },
    card(t("bidder.tenders"), picker("bidder", "tender", t("field.tender"), tender), joinBtn, list));
  refresh();
  const body = h("div", { class: "content" });
  fill(root, h("div", { class: "page-head" }, h("h1", null, t("bidder.title"))), h("div", { class: "cols" }, side, body));
  if (!tender) return;

  const stream = `tender:${tender}`;
  const s = emptyTender();
  /** @type {any} */ let bidKeys = null;
  const keysInput = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "bid-keys-file", accept: ".json" }));
  keysInput.onchange = async () => {
    try {
      bidKeys = JSON.parse(await readPicked(keysInput));
      if (bidKeys.format !== "evalroom-bid-keys/1") throw new Error("not an evalroom-bid-keys/1 file");
    } catch (err) {
      bidKeys = null;
      toast(String(/** @type {Error} */ (err).message), "error");
    }
  };
  const releaseBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", id: "release-btn", type: "button" }, t("bidder.release")));
  releaseBtn.onclick = () => act(releaseBtn, () => release());
  const objection = /** @type {HTMLInputElement} */ (h("input", { id: "objection-text", placeholder: t("bidder.objection") }));
  const confirmBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", id: "confirm-btn", type: "button" }, t("bidder.confirm")));
  confirmBtn.onclick = () => act(confirmBtn, async () => {
    if (!(await confirmAction({
      title: t("bidder.confirm"),
      items: [
        [t("confirm.stream"), s.title || tender],
        [t("confirm.record"), t("confirm.bids_n", { n: (s.readOut || []).length })],
        ...(s.readOut || []).map((/** @type {any} */ e) => /** @type {[string, any]} */ ([e.number, e.org || "—"])),
      ],
      details: { stream, type: "opening.confirm", record: s.readOut || [] },
    }))) return CANCELLED;
    return conn.command(stream, "opening.confirm", {}, { sign: true });
  });
  const objectBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", id: "object-btn", type: "button" }, t("bidder.object")));
  objectBtn.onclick = () => act(objectBtn, async () => {
    const text = objection.value.trim();
    if (!text) {
      objection.focus();
      objection.setAttribute("aria-invalid", "true");
      throw Object.assign(new Error(t("bidder.objection_empty")), { code: "reason_required" });
    }
    objection.removeAttribute("aria-invalid");
    await conn.command(stream, "opening.object", { text });
  });

  const upload = uploadCard(ctx, tender, s, (/** @type {any} */ r) => receipts.add(r));
  const live = h("div");
  const receipts = receiptsCard(ctx, tender);
  const clarifications = clarificationCard(ctx);
  fill(body, live, upload.el, receipts.el);

  async function release() {
    const org = conn.profile?.org;
    if (!s.signedIn.includes(org)) await conn.command(stream, "opening.sign_in", {}, { sign: true });
    if (!bidKeys) throw Object.assign(new Error(t("bidder.keys")), { code: "no_file" });
    for (const [number, section] of Object.entries(s.mine)) {
      const status = s.bids[number]?.status;
      if (status === "decrypted" || status === "rejected") continue;
      const entry = (bidKeys.bids || []).filter((/** @type {any} */ b) =>
        b.tender === tender && b.section === section && b.envelope === s.stage).pop();
      if (!entry) throw Object.assign(new Error(t("bidder.no_key", { section: sectionName(s, section), envelope: envelopeName(s.stage) })), { code: "no_key" });
      if (status !== "decrypting") await conn.command(stream, "bid.decrypting", { section });
      await conn.command(stream, "bid.release_key", { section, identity: entry.identity });
    }
  }

  const countdown = h("span", { class: "mono", id: "countdown" }, "—");
  function tick() {
    countdown.textContent = s.windowEnds && !s.windowClosed ? remaining(s.windowEnds) : "—";
  }

  function render() {
    tick();
    const org = conn.profile?.org;
    const signed = s.signedIn.includes(org);
    const why = t("why.phase");
    allow(releaseBtn, s.phase === "opening" && !!s.stage && !s.windowClosed, why);
    allow(confirmBtn, s.phase === "opening" && !!s.readOut && !s.confirmed.includes(org), s.confirmed.includes(org) ? t("why.done") : why);
    allow(objectBtn, s.phase === "opening" && !!s.readOut, why);
    fill(live,
      h("div", { class: "title-row" }, h("h2", { class: "tender-title" }, s.title || tender, h("small", { class: "mono" }, ` ${tender}`)), phasePill(s.phase)),
      facts([
        [t("field.tender"), tender],
        [t("bidder.opening_at"), s.config ? h("span", { id: "opening-at" }, beijing(s.config.opening_at)) : "—"],
        s.config && s.phase === "bidding" ? [t("bidder.opening_in"), countdownEl(s.config.opening_at, "tz.opening_passed", { id: "opening-countdown" })] : null,
        [t("bidder.window_left"), countdown],
        [t("bidder.signin"), signed ? h("span", { class: "ok", id: "signed-in" }, t("bidder.signedin")) : "—"],
      ]),
      failureBanner(s),
      s.notices.length ? h("div", { class: "notice" }, s.notices[s.notices.length - 1]) : null,
      clarifications.el, // an open question comes before everything else
      s.stage ? card(t("bidder.opening"),
        h("div", { class: "toolbar" }, h("label", { class: "file" }, t("bidder.keys"), keysInput), releaseBtn),
        statusTable(s, { mine: true })) : null,
      s.readOut ? card(t("bidder.readout"), readOutTable(s),
        h("div", { class: "toolbar" }, h("label", { class: "inline" }, t("bidder.objection"), objection), objectBtn, confirmBtn,
          s.confirmed.includes(org) ? h("span", { class: "ok", id: "confirmed" }, t("bidder.confirmed")) : null),
        s.objections.length ? h("ul", { class: "objections" }, s.objections.map((/** @type {any} */ o) =>
          h("li", null, h("strong", null, o.org, t("colon")), o.text, o.answer ? h("div", { class: "answer" }, t("answer_prefix"), o.answer) : null))) : null) : null,
    );
  }
  ctx.follow(stream, (ev) => {
    foldTender(s, ev);
    render();
    if (listedPhase && s.phase && s.phase !== listedPhase) {
      listedPhase = null; // one refresh per change
      refresh();
    }
    upload.update();
    if (ev.type === "tender.configured") {
      for (const sec of s.config?.sections || []) clarifications.follow(`session:${tender}-${sec.id}`);
    }
  });
  // The company's own stream (its registration and bids, kept apart from the tender's so that
  // nobody can count bidders) folds into the same view; the server names it in the list.
  listTenders(conn).then((rows) => {
    const own = rows.find((r) => r.tender === tender)?.bid_stream;
    if (!alive || !own) return;
    ctx.follow(own, (ev) => {
      foldTender(s, ev);
      render();
      upload.update();
    });
  }).catch(() => {});
  ctx.on("error", (/** @type {any} */ e) => {
    if (e.stream === stream) toast(t("error", { message: e.message, code: e.code }), "error");
  });
  const timer = setInterval(tick, 1000);
  ctx.offs.push(() => clearInterval(timer));
  render();
}

const MAX_HASHED = 512 * 1024 * 1024; // larger files: the size is checked, not the hash

/** @param {Uint8Array} bytes */
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** @param {number} n */
function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The signed receipts (回执) of this tender, kept in this browser: each one's platform
 * signature, whether it names the file sent, and its inclusion in the tender's Merkle log,
 * checked here against a signed checkpoint once one covers it.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender
 */
function receiptsCard(ctx, tender) {
  const conn = ctx.conn;
  const storeKey = `evalroom.receipts.${conn.user}.${tender}`;
  /** @type {any[]} */ const list = JSON.parse(localStorage.getItem(storeKey) || "[]");
  /** @type {Map<number, {state: string, message?: string, size?: number, root?: string}>} */
  const inclusion = new Map();
  let alive = true;
  ctx.offs.push(() => { alive = false; });
  const el = h("div", { id: "receipts" });

  function save() {
    localStorage.setItem(storeKey, JSON.stringify(list));
  }

  /** @param {any} r */
  async function check(r) {
    const seq = r.receipt.seq;
    inclusion.set(seq, { state: "checking" });
    render();
    for (let tries = 0; alive && tries < 120; tries++) {
      try {
        const result = await checkReceiptInclusion(r.receipt, await conn.ensureToken());
        if (result.state === "verified") {
          r.inclusion = result.inclusion;
          save();
          inclusion.set(seq, { state: "verified", ...result.checkpoint });
          render();
          return;
        }
        inclusion.set(seq, { state: "pending", size: result.size ?? 0 });
        render();
      } catch (err) {
        inclusion.set(seq, { state: "failed", message: /** @type {Error} */ (err).message });
        render();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000)); // checkpoints come every ~2 s
    }
  }

  /** @param {any} r */
  function download(r) {
    const { receipt, sig, platform_key, inclusion: incl } = r;
    const blob = new Blob([JSON.stringify({ receipt, sig, platform_key, inclusion: incl }, null, 1)], { type: "application/json" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `receipt-${receipt.stream.replace(":", "-")}-${receipt.seq}.json` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.getAttribute("href") || ""), 1000);
  }

  /** @param {any} r */
  function view(r) {
    const rc = r.receipt;
    const inc = inclusion.get(rc.seq) || { state: "checking" };
    const incText = {
      checking: () => t("incl.checking"),
      pending: () => t("incl.pending", { seq: rc.seq, size: inc.size ?? 0 }),
      verified: () => "✔ " + t("incl.verified"),
      failed: () => "✘ " + t("incl.failed", { message: inc.message || "" }),
    }[inc.state]();
    const incClass = inc.state === "verified" ? "ok" : inc.state === "failed" ? "error" : "hint";
    const recheck = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary recheck-btn", type: "button" }, t("incl.recheck")));
    recheck.onclick = () => check(r);
    recheck.disabled = inc.state === "checking" || inc.state === "pending";
    const dl = h("button", { class: "link download-btn", type: "button", onclick: () => download(r) }, t("receipt.download"));
    return h("article", { class: "receipt", "data-seq": rc.seq },
      h("div", { class: "verdicts" },
        h("p", { class: `receipt-verdict ${r.verified ? "ok" : "error"}` }, r.verified ? "✔ " + t("bidder.receipt_ok") : "✘ " + t("bidder.receipt_bad")),
        r.fileCheck ? h("p", { class: `receipt-file ${r.fileCheck === "ok" ? "ok" : "error"}` },
          r.fileCheck === "ok" ? "✔ " + t("receipt.file_ok") : "✘ " + t("receipt.file_bad")) : null,
        h("p", { class: `receipt-inclusion ${incClass}`, "data-state": inc.state }, incText)),
      h("dl", { class: "facts" }, [
        [t("col.section"), `${rc.section ?? "—"} / ${rc.envelope ? envelopeName(rc.envelope) : "—"}`],
        [t("receipt.seq"), h("span", { class: "mono" }, `${rc.stream} #${rc.seq}`)],
        [t("receipt.at"), beijing(rc.at)],
        [t("receipt.size"), rc.size != null ? bytes(Number(rc.size)) : "—"],
        [t("incl.label"), inc.state === "verified" ? h("details", { class: "tech" }, h("summary", null, t("details")), h("span", { class: "mono" }, t("incl.detail", { size: inc.size, root: String(inc.root).slice(0, 12) + "…" }))) : "—"],
      ].map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))),
      h("p", { class: "mono small" }, "SHA-256 ", rc.sha256 || "—"),
      h("p", { class: "mono small" }, t("receipt.sig"), " ", r.sig),
      h("div", { class: "toolbar" }, recheck, dl));
  }

  function render() {
    fill(el, list.length ? card(t("bidder.receipt"), [...list].reverse().map(view)) : null);
  }

  /** @param {any} r */
  function add(r) {
    list.push(r);
    save();
    check(r);
  }
  for (const r of list) check(r);
  render();
  return { el, add };
}

/**
 * Upload a sealed envelope with progress; verify the receipt's platform signature and that it
 * names the file sent (SHA-256 and size).
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s
 * @param {(r: any) => void} onReceipt
 */
function uploadCard(ctx, tender, s, onReceipt) {
  const section = /** @type {HTMLSelectElement} */ (h("select", { id: "up-section" }));
  const envelope = /** @type {HTMLSelectElement} */ (h("select", { id: "up-envelope" }));
  const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "up-file", accept: ".age" }));
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 100, value: 0, id: "up-progress" }));
  const pct = h("span", { class: "mono", id: "up-pct" }, "");
  const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "up-btn" }, t("bidder.upload_btn")));
  btn.onclick = () => act(btn, async () => {
    const f = file.files?.[0];
    if (!f) throw Object.assign(new Error(t("bidder.pick_file")), { code: "no_file" });
    const digest = f.size <= MAX_HASHED ? hex(await sha256(new Uint8Array(await f.arrayBuffer()))) : null;
    const token = await ctx.conn.ensureToken();
    const url = `/api/tenders/${encodeURIComponent(tender)}/bids/${encodeURIComponent(section.value)}/${encodeURIComponent(envelope.value)}`;
    bar.value = 0;
    fill(pct, "0%");
    const ack = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("authorization", `Bearer ${token}`);
      xhr.setRequestHeader("content-type", "application/octet-stream");
      xhr.setRequestHeader("accept-language", ctx.conn.lang);
      xhr.setRequestHeader("idempotency-key", `web-${b64(crypto.getRandomValues(new Uint8Array(9))).replace(/[+/]/g, "x")}`);
      xhr.upload.onprogress = (e) => {
        if (!e.lengthComputable) return;
        bar.value = Math.round((100 * e.loaded) / e.total);
        fill(pct, `${bar.value}%  ${bytes(e.loaded)} / ${bytes(e.total)}`);
      };
      xhr.onload = () => {
        let data = {};
        try { data = JSON.parse(xhr.responseText || "{}"); } catch { /* not JSON */ }
        const d = /** @type {any} */ (data);
        if (xhr.status >= 200 && xhr.status < 300) resolve(d);
        else reject(Object.assign(new Error(d.message || xhr.statusText), { code: d.code || `http_${xhr.status}` }));
      };
      xhr.onerror = () => reject(Object.assign(new Error("network"), { code: "network" }));
      xhr.send(f);
    });
    bar.value = 100;
    const reply = /** @type {any} */ (ack).reply;
    const keys = await (await fetch("/api/log/keys")).json();
    const verified = reply.platform_key === keys.platform_key && (await verifyJson(keys.platform_key, reply.sig, reply.receipt));
    const sameFile = Number(reply.receipt.size) === f.size && (digest === null || reply.receipt.sha256 === digest);
    onReceipt({ ...reply, verified, fileCheck: sameFile ? "ok" : "mismatch", file: f.name });
    file.value = "";
  }, t("bidder.uploaded"));
  const el = card(t("bidder.upload"),
    h("p", { class: "hint" }, t("bidder.upload_hint")),
    h("div", { class: "toolbar" }, h("label", null, t("col.section"), section), h("label", null, t("bidder.envelope"), envelope),
      h("label", { class: "file" }, t("bidder.sealed_file"), file), btn),
    h("div", { class: "progress-row" }, bar, pct));
  function update() {
    const sections = s.config?.sections || [];
    if (section.options.length !== sections.length) {
      fill(section, sections.map((/** @type {any} */ x) => h("option", { value: x.id }, `${x.id} ${x.name}`)));
      fill(envelope, (s.config?.envelopes || []).map((/** @type {string} */ e) => h("option", { value: e }, envelopeName(e))));
    }
    el.hidden = s.phase !== "bidding";
  }
  update();
  return { el, update };
}

/**
 * Clarification questions (澄清) the committee sent this bidder company, approved by the
 * supervisor, and the company's signed answers.
 * @param {import("../app.js").ViewContext} ctx
 */
function clarificationCard(ctx) {
  const conn = ctx.conn;
  /** @type {Map<string, any>} key stream/id */
  const items = new Map();
  /** @type {Record<string, string>} */ const drafts = {};
  const el = h("div", { id: "clarifications" });
  /** @type {Set<string>} */ const followed = new Set();

  /** @param {string} stream */
  function follow(stream) {
    if (followed.has(stream)) return;
    followed.add(stream);
    ctx.follow(stream, (ev) => {
      const p = ev.payload || {};
      const key = `${stream}/${p.id}`;
      if (ev.type === "session.clarification_request") items.set(key, { stream, ...p, status: "approved" });
      else if (ev.type === "session.clarification_answered" && items.has(key)) Object.assign(items.get(key), { status: "answered", answer: p.answer });
      else if (ev.type === "session.clarification_expired" && items.has(key)) items.get(key).status = "expired";
      else return;
      render();
    });
  }

  /** @param {any} c */
  function item(c) {
    const head = h("div", { class: "clar-q" }, h("strong", { class: "mono" }, c.id), " ", c.question);
    if (c.status === "answered") {
      return h("li", { "data-id": c.id, class: "answered" }, head,
        h("div", { class: "answer" }, h("span", { class: "badge s-decrypted" }, t("clar.answered")), " ", c.answer));
    }
    if (c.status === "expired") {
      return h("li", { "data-id": c.id }, head, h("div", null, h("span", { class: "badge s-failed" }, t("clar.expired"))));
    }
    const key = `${c.stream}/${c.id}`;
    const input = /** @type {HTMLTextAreaElement} */ (h("textarea", {
      rows: 2, class: "clar-answer", placeholder: t("clar.answer"), "aria-label": t("clar.answer"),
      oninput: (/** @type {any} */ e) => (drafts[key] = e.target.value),
    }, drafts[key] || ""));
    const b = /** @type {HTMLButtonElement} */ (h("button", { class: "primary clar-send", type: "button" }, t("clar.send")));
    b.onclick = () => act(b, async () => {
      const answer = input.value.trim();
      if (!answer) throw Object.assign(new Error(t("clar.empty")), { code: "reason_required" });
      await conn.command(c.stream, "session.clarify_answer", { id: c.id, answer }, { sign: true });
    });
    return h("li", { "data-id": c.id }, head,
      h("div", { class: "hint" }, t("clar.deadline", { time: beijing(c.deadline) }), " · ",
        t("clar.left"), " ", countdownEl(c.deadline, "clar.expired", { class: "countdown mono clar-countdown" })),
      input, h("div", { class: "toolbar" }, b));
  }

  function render() {
    fill(el, items.size ? card(t("clar.title"), h("ul", { class: "clar-list" }, [...items.values()].map(item))) : null);
  }
  return { el, follow };
}
