/**
 * Bidder portal (投标人): my tenders, the live opening (sign in, release the per-bid key,
 * status, read-out, confirm or object) and uploading a sealed bid with its signed receipt.
 * @module views/bidder
 */
import { BidKeyError, exportBackup, importBackup, listBidKeys, loadBidKey, messageFor, sealEnvelope } from "../bidkeys.js";
import { bidPackage, browserOrigin, PackageError } from "../bidpackage.js";
import { lang, phaseName, t } from "../i18n.js";
import { verifyJson } from "../keys.js";
import { b64, checkReceiptInclusion, sha256 } from "../logproof.js";
import { emptyTender, foldTender } from "../tender.js";
import { act, beijing, CANCELLED, confirmAction, card, countdown as countdownEl, fill, h, readPicked, table, toast } from "../ui.js";
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
  // The client's bid-keys file (evalroom-bid-keys/1), for bids sealed with the CLI.
  /** @type {any} */ let bidKeys = null;
  const keysInput = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "bid-keys-file", accept: ".json" }));
  keysInput.onchange = async () => {
    try {
      bidKeys = JSON.parse(await readPicked(keysInput));
      if (bidKeys.format !== "evalroom-bid-keys/1") throw new Error(t("release.cli_file"));
    } catch (err) {
      bidKeys = null;
      toast(t("error", { message: /** @type {Error} */ (err).message }), "error");
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

  const keys = keysCard(ctx, tender, s);
  const seal = sealCard(ctx, tender, s, (/** @type {any} */ r) => { receipts.add(r); keys.refresh(); });
  const upload = uploadCard(ctx, tender, s, (/** @type {any} */ r) => receipts.add(r));
  const live = h("div");
  const receipts = receiptsCard(ctx, tender);
  const clarifications = clarificationCard(ctx);
  fill(body, live, seal.el, upload.el, keys.el, receipts.el);

  /** The SHA-256 of the last envelope this company submitted for a slot (its receipt's). @param {string} section @param {string} envelope */
  function submittedSha(section, envelope) {
    const found = s.receipts.filter((/** @type {any} */ r) => r.section === section && r.envelope === envelope).pop();
    return found?.sha256 ? String(found.sha256) : undefined;
  }

  /**
   * Sign in and release the keys of this company's bids of the running stage: each from the
   * client's file if one was chosen, else from this browser's vault, the one sealed into the
   * file the receipt names. Every key is found before anything is sent.
   */
  async function release() {
    const org = conn.profile?.org;
    /** @type {{number: string, section: string, status: string, identity?: string, source?: string}[]} */
    const pending = [];
    for (const [number, section] of Object.entries(s.mine)) {
      const status = s.bids[number]?.status;
      if (status === "decrypted" || status === "rejected") continue;
      pending.push({ number, section: String(section), status });
    }
    if (!pending.length) throw Object.assign(new Error(t("release.none")), { code: "nothing_to_release" });
    for (const p of pending) {
      const entry = bidKeys ? (bidKeys.bids || []).filter((/** @type {any} */ b) =>
        b.tender === tender && b.section === p.section && b.envelope === s.stage).pop() : null;
      if (entry) {
        p.identity = entry.identity;
        p.source = t("release.from_file");
        continue;
      }
      const sha = submittedSha(p.section, s.stage);
      try {
        p.identity = await loadBidKey({ tender, section: p.section, envelope: s.stage }, sha);
      } catch (err) {
        throw keyError(err);
      }
      p.source = t("release.from_browser");
      if (!p.identity) {
        throw Object.assign(new Error(t("release.no_key", {
          section: sectionName(s, p.section), envelope: envelopeName(s.stage), sha: (sha || "—").slice(0, 12),
        })), { code: "no_key" });
      }
    }
    if (!(await confirmAction({
      title: t("release.title"),
      lead: t("release.lead"),
      items: [
        [t("confirm.stream"), s.title || tender],
        [t("bidder.signin"), s.signedIn.includes(org) ? t("bidder.signedin") : org || conn.user],
        ...pending.map((p) => /** @type {[string, any]} */ ([p.number,
          `${sectionName(s, p.section)} · ${envelopeName(s.stage)} · ${t("release.source")}${t("colon")}${p.source}`])),
      ],
      details: {
        stream,
        commands: [
          ...(s.signedIn.includes(org) ? [] : [{ type: "opening.sign_in", signed: true }]),
          ...pending.map((p) => ({ type: "bid.release_key", section: p.section, identity: t("release.key_hidden") })),
        ],
      },
    }))) return CANCELLED;
    if (!s.signedIn.includes(org)) await conn.command(stream, "opening.sign_in", {}, { sign: true });
    for (const p of pending) {
      if (p.status !== "decrypting") await conn.command(stream, "bid.decrypting", { section: p.section });
      await conn.command(stream, "bid.release_key", { section: p.section, identity: p.identity });
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
        h("div", { class: "toolbar" }, h("label", { class: "file" }, t("release.cli_file"), keysInput), releaseBtn),
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
    seal.update();
    keys.update();
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
      seal.update();
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
 * PUT a sealed envelope with upload progress; the ack's reply with whether the platform's
 * signature verifies against the published platform key.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {string} section
 * @param {string} envelope @param {Blob} body @param {(loaded: number, total: number) => void} onProgress
 * @returns {Promise<{reply: any, verified: boolean}>}
 */
async function putSealed(ctx, tender, section, envelope, body, onProgress) {
  const token = await ctx.conn.ensureToken();
  const url = `/api/tenders/${encodeURIComponent(tender)}/bids/${encodeURIComponent(section)}/${encodeURIComponent(envelope)}`;
  const ack = await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.setRequestHeader("accept-language", ctx.conn.lang);
    xhr.setRequestHeader("idempotency-key", `web-${b64(crypto.getRandomValues(new Uint8Array(9))).replace(/[+/]/g, "x")}`);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText || "{}"); } catch { /* not JSON */ }
      const d = /** @type {any} */ (data);
      if (xhr.status >= 200 && xhr.status < 300) resolve(d);
      else reject(Object.assign(new Error(d.message || xhr.statusText), { code: d.code || `http_${xhr.status}` }));
    };
    xhr.onerror = () => reject(Object.assign(new Error("network"), { code: "network" }));
    xhr.send(body);
  });
  const reply = /** @type {any} */ (ack).reply;
  const keys = await (await fetch("/api/log/keys")).json();
  const verified = reply.platform_key === keys.platform_key && (await verifyJson(keys.platform_key, reply.sig, reply.receipt));
  return { reply, verified };
}

/**
 * Upload an envelope sealed with the client (evalroom-bidder seal), the advanced way; verify
 * the receipt's platform signature and that it names the file sent (SHA-256 and size).
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s
 * @param {(r: any) => void} onReceipt
 */
function uploadCard(ctx, tender, s, onReceipt) {
  const section = /** @type {HTMLSelectElement} */ (h("select", { id: "up-section" }));
  const envelope = /** @type {HTMLSelectElement} */ (h("select", { id: "up-envelope" }));
  const file = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "up-file", accept: ".age" }));
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 100, value: 0, id: "up-progress", "aria-label": t("bidder.upload") }));
  const pct = h("span", { class: "mono", id: "up-pct" }, "");
  const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "up-btn" }, t("bidder.upload_btn")));
  btn.onclick = () => act(btn, async () => {
    const f = file.files?.[0];
    if (!f) throw Object.assign(new Error(t("bidder.pick_file")), { code: "no_file" });
    const digest = f.size <= MAX_HASHED ? hex(await sha256(new Uint8Array(await f.arrayBuffer()))) : null;
    bar.value = 0;
    fill(pct, "0%");
    const { reply, verified } = await putSealed(ctx, tender, section.value, envelope.value, f, (loaded, total) => {
      bar.value = Math.round((100 * loaded) / total);
      fill(pct, `${bar.value}%  ${bytes(loaded)} / ${bytes(total)}`);
    });
    bar.value = 100;
    const sameFile = Number(reply.receipt.size) === f.size && (digest === null || reply.receipt.sha256 === digest);
    onReceipt({ ...reply, verified, fileCheck: sameFile ? "ok" : "mismatch", file: f.name });
    file.value = "";
  }, t("bidder.uploaded"));
  const el = h("details", { class: "card advanced", id: "advanced-upload" },
    h("summary", null, t("seal.advanced")),
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

/** An error of bidkeys.js, age.js or bidpackage.js as a sentence that says what to do. @param {any} err */
function keyError(err) {
  if (err instanceof PackageError) {
    return Object.assign(new Error(t(`seal.${err.code}`, { file: err.file || "" })), { code: err.code });
  }
  if (err instanceof BidKeyError || err?.name === "AgeError") {
    return Object.assign(new Error(messageFor(err, lang)), { code: err.message });
  }
  return err;
}

const DECIMAL = /^\d{1,15}(\.\d{1,4})?$/; // domain/bidform.py's, negatives refused there too
const INT = /^\d{1,12}$/;

/**
 * Seal in the page: for each envelope of the tender, the bid form's fields and the documents;
 * the page packs them (bidpackage.js, the CLI's format), seals the package streamed to the
 * opening key and a fresh bid key (bidkeys.js keeps the key in this browser), uploads the
 * ciphertext and checks the platform's receipt against the file sealed.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s
 * @param {(r: any) => void} onReceipt
 */
function sealCard(ctx, tender, s, onReceipt) {
  const section = /** @type {HTMLSelectElement} */ (h("select", { id: "seal-section" }));
  const forms = h("div", { class: "envelope-forms" });
  const recipient = h("span", { class: "mono", id: "seal-recipient" }, "—");
  const el = card(t("seal.title"),
    h("p", { class: "hint" }, t("seal.hint")),
    h("dl", { class: "facts" },
      h("div", null, h("dt", null, t("seal.recipient")), h("dd", null, recipient))),
    h("div", { class: "toolbar" }, h("label", null, t("seal.section"), section)),
    forms);
  el.id = "seal-card";
  /** @type {string} the configuration the forms were built for */ let built = "";

  /** @param {string} envelope @param {any[]} fields */
  function envelopeForm(envelope, fields) {
    /** @type {[any, HTMLInputElement|HTMLTextAreaElement][]} */
    const inputs = fields.map((f) => {
      const id = `f-${envelope}-${f.name}`;
      const input = f.type === "text"
        ? /** @type {HTMLTextAreaElement} */ (h("textarea", { id, rows: 2, maxlength: 2000, "data-field": f.name }))
        : /** @type {HTMLInputElement} */ (h("input", { id, "data-field": f.name, inputmode: f.type === "int" ? "numeric" : "decimal", autocomplete: "off" }));
      return [f, input];
    });
    const files = /** @type {HTMLInputElement} */ (h("input", { type: "file", multiple: true, id: `att-${envelope}` }));
    const picked = h("span", { class: "hint", id: `att-${envelope}-summary` });
    files.onchange = () => {
      const list = [...(files.files || [])];
      fill(picked, list.length ? t("seal.attached", { n: list.length, size: bytes(list.reduce((a, f) => a + f.size, 0)) }) : "");
    };
    const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 100, value: 0, id: `seal-progress-${envelope}`, "aria-label": t("seal.btn") }));
    const state = h("span", { class: "mono seal-state", id: `seal-state-${envelope}`, "aria-live": "polite" });
    const btn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: `seal-btn-${envelope}` }, t("seal.btn")));
    btn.onclick = () => act(btn, async () => {
      try {
        return await submit();
      } catch (err) {
        const e = keyError(err);
        fill(state, t("seal.failed", { message: /** @type {Error} */ (e).message }));
        state.className = "mono seal-state error";
        throw e;
      }
    }, t("seal.submitted"));

    /** The form's values checked as the platform will (domain/bidform.py); the first wrong field named. */
    function values() {
      /** @type {Record<string, any>} */ const form = {};
      for (const [f, input] of inputs) input.removeAttribute("aria-invalid");
      for (const [f, input] of inputs) {
        const label = f.label || f.name;
        const raw = input.value.trim();
        /** @param {string} key */
        const wrong = (key) => {
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return Object.assign(new Error(t(key, { field: label })), { code: "invalid_form", field: f.name });
        };
        if (!raw) {
          if (f.required !== false) throw wrong("seal.field_missing");
          continue;
        }
        if (f.type === "decimal") {
          const v = raw.replace(/[,，\s]/g, ""); // thousands separators as people type them
          if (!DECIMAL.test(v)) throw wrong("seal.field_decimal");
          form[f.name] = v;
        } else if (f.type === "int") {
          if (!INT.test(raw)) throw wrong("seal.field_int");
          form[f.name] = Number(raw);
        } else {
          if (raw.length > 2000) throw wrong("seal.field_text");
          form[f.name] = raw;
        }
      }
      return form;
    }

    async function submit() {
      const opening = s.config?.opening_recipient;
      if (!opening) throw Object.assign(new Error(t("seal.no_recipient")), { code: "no_recipient" });
      const form = values();
      const docs = [...(files.files || [])];
      const pkg = bidPackage(form, docs, { origin: await browserOrigin(tender, opening) });
      const limit = Number(s.config?.max_bid_bytes || 1 << 30);
      if (pkg.size > limit) {
        throw Object.assign(new Error(t("seal.too_large", { size: bytes(pkg.size), limit: bytes(limit) })), { code: "too_large" });
      }
      const sec = section.value;
      if (!(await confirmAction({
        title: t("seal.confirm_title", { envelope: envelopeName(envelope) }),
        lead: t("seal.confirm_lead"),
        signed: false,
        okText: t("seal.btn"),
        items: [
          [t("confirm.stream"), s.title || tender],
          [t("seal.section"), sectionName(s, sec)],
          [t("bidder.envelope"), envelopeName(envelope)],
          ...inputs.filter(([f]) => f.name in form).map(([f]) => /** @type {[string, any]} */ ([f.label || f.name, String(form[f.name])])),
          [t("seal.package"), t("seal.package_size", { n: docs.length, size: bytes(pkg.size) })],
          ...docs.map((d) => /** @type {[string, any]} */ (["·", `${d.name}（${bytes(d.size)}）`])),
          [t("seal.sealed_to"), t("seal.sealed_to_value", { recipient: `${opening.slice(0, 16)}…` })],
        ],
        details: { stream: `tender:${tender}`, type: "bid.submit", section: sec, envelope, form, attachments: pkg.names, recipients: [opening, "age1…（本机新生成）"] },
      }))) return CANCELLED;
      state.className = "mono seal-state";
      bar.value = 0;
      const show = (/** @type {string} */ key, /** @type {number} */ done, /** @type {number} */ total) => {
        bar.value = Math.floor((100 * done) / Math.max(total, 1));
        fill(state, t(key, { pct: bar.value, done: bytes(done), total: bytes(total) }));
      };
      show("seal.sealing", 0, pkg.size);
      const sealed = await sealEnvelope(pkg.stream(), opening, {
        tender, section: sec, envelope, fileName: `${tender}-${sec}-${envelope}.age`,
      }, (done) => show("seal.sealing", done, pkg.size));
      show("seal.uploading", 0, sealed.size);
      const { reply, verified } = await putSealed(ctx, tender, sec, envelope, sealed.blob,
        (loaded, total) => show("seal.uploading", loaded, total));
      fill(state, t("seal.checking"));
      const sameFile = Number(reply.receipt.size) === sealed.size && reply.receipt.sha256 === sealed.sha256;
      onReceipt({ ...reply, verified, fileCheck: sameFile ? "ok" : "mismatch", file: `${tender}-${sec}-${envelope}.age` });
      if (!sameFile) throw Object.assign(new Error(t("seal.receipt_mismatch")), { code: "bad_receipt" });
      bar.value = 100;
      fill(state, t("seal.done", { size: bytes(sealed.size), sha: sealed.sha256.slice(0, 12) }));
      state.className = "mono seal-state ok";
    }

    return h("fieldset", { class: "envelope-form", "data-envelope": envelope },
      h("legend", null, envelopeName(envelope)),
      inputs.map(([f, input]) => h("label", { class: "field", for: input.id },
        h("span", { class: "field-name" }, f.label || f.name,
          f.required !== false ? h("em", { class: "req" }, ` *${t("seal.required")}`) : null),
        input,
        h("small", { class: "hint" }, t(`seal.type.${f.type}`)))),
      h("label", { class: "file field" }, h("span", { class: "field-name" }, t("seal.attachments")), files, picked),
      h("div", { class: "toolbar" }, btn),
      h("div", { class: "progress-row" }, bar, state));
  }

  function update() {
    const config = s.config;
    el.hidden = s.phase !== "bidding" || !config;
    if (!config) return;
    const key = JSON.stringify([config.sections, config.envelopes, config.forms, config.opening_recipient]);
    if (key === built) return; // keep what the bidder typed
    built = key;
    fill(recipient, config.opening_recipient || t("seal.no_recipient"));
    fill(section, (config.sections || []).map((/** @type {any} */ x) => h("option", { value: x.id }, `${x.id} ${x.name}`)));
    fill(forms, (config.envelopes || []).map((/** @type {string} */ e) => envelopeForm(e, (config.forms || {})[e] || [])));
  }
  update();
  return { el, update };
}

/**
 * The bid keys this browser keeps for the tender (no secret shown), the passphrase backup
 * file to download, and the way back from one.
 * @param {import("../app.js").ViewContext} ctx @param {string} tender @param {any} s
 */
function keysCard(ctx, tender, s) {
  const conn = ctx.conn;
  const backupKey = `evalroom.bidkeys-backup.${conn.user}.${tender}`;
  const el = h("div", { id: "bid-keys" });
  /** @type {any[]} */ let held = [];
  const pass = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "backup-pass", autocomplete: "new-password" }));
  const pass2 = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "backup-pass2", autocomplete: "new-password" }));
  const backupBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "primary", type: "button", id: "backup-btn" }, t("keys.backup_btn")));
  backupBtn.onclick = () => act(backupBtn, async () => {
    pass2.removeAttribute("aria-invalid");
    if (pass.value !== pass2.value) {
      pass2.setAttribute("aria-invalid", "true");
      pass2.focus();
      throw Object.assign(new Error(t("keys.pass_mismatch")), { code: "passphrase_mismatch" });
    }
    let text;
    try {
      text = await exportBackup(pass.value, { user: conn.user, slots: held.map(({ tender: tn, section, envelope }) => ({ tender: tn, section, envelope })) });
    } catch (err) {
      pass.focus();
      throw keyError(err);
    }
    const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/json" })), download: `${tender}.bidkeys-backup.json` });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.getAttribute("href") || ""), 1000);
    localStorage.setItem(backupKey, JSON.stringify({ at: new Date().toISOString(), count: held.length }));
    pass.value = pass2.value = "";
    render();
  }, t("keys.backed_up"));
  const restoreFile = /** @type {HTMLInputElement} */ (h("input", { type: "file", id: "restore-file", accept: ".json" }));
  const restorePass = /** @type {HTMLInputElement} */ (h("input", { type: "password", id: "restore-pass", autocomplete: "current-password" }));
  const restoreBtn = /** @type {HTMLButtonElement} */ (h("button", { class: "secondary", type: "button", id: "restore-btn" }, t("keys.restore_btn")));
  restoreBtn.onclick = () => act(restoreBtn, async () => {
    if (!restoreFile.files?.length) throw Object.assign(new Error(t("keys.pick_backup")), { code: "no_file" });
    let content;
    try {
      content = await importBackup(await readPicked(restoreFile), restorePass.value);
    } catch (err) {
      restorePass.focus();
      throw keyError(err);
    }
    restorePass.value = "";
    restoreFile.value = "";
    await refresh();
    toast(t("keys.restored", { n: content.bids.length }));
  }, "");

  // Built once: re-rendering keeps it open and keeps the chosen file.
  const restoreBox = h("details", { class: "restore", id: "restore" }, h("summary", null, t("keys.restore")),
    h("div", { class: "toolbar" },
      h("label", { class: "file" }, t("keys.restore_file"), restoreFile),
      h("label", null, t("keys.restore_pass"), restorePass), restoreBtn));

  async function refresh() {
    try {
      held = (await listBidKeys()).filter((k) => k.tender === tender);
    } catch {
      held = [];
    }
    render();
  }

  function render() {
    const done = JSON.parse(localStorage.getItem(backupKey) || "null");
    const backedUp = done && done.count >= held.length;
    const phaseOk = s.phase === "bidding" || s.phase === "opening" || s.phase === "technical_opened";
    if (!phaseOk && !held.length) return fill(el);
    fill(el, card(t("keys.title"),
      h("p", { class: "hint" }, t("keys.hint")),
      held.length
        ? table([t("col.section"), t("bidder.envelope"), t("keys.col.sealed"), t("keys.col.size"), t("keys.col.file")],
          held.map((k) => ({
            attrs: { "data-section": k.section, "data-envelope": k.envelope, "data-sha": k.sealed_sha256 },
            cells: [sectionName(s, k.section), envelopeName(k.envelope), beijing(k.created_at), bytes(k.sealed_size), h("span", { class: "mono" }, `${k.sealed_sha256.slice(0, 16)}…`)],
          })), { class: "grid", id: "bid-key-list" })
        : h("p", { class: "hint", id: "no-bid-keys" }, t("keys.none")),
      held.length && !backedUp ? h("p", { class: "warn", id: "backup-needed", role: "alert" }, t("keys.backup_needed")) : null,
      held.length && backedUp ? h("p", { class: "ok", id: "backup-done" }, "✔ " + t("keys.backup_done", { time: beijing(done.at) })) : null,
      held.length ? h("div", { class: "toolbar" },
        h("label", null, t("keys.pass"), pass), h("label", null, t("keys.pass2"), pass2), backupBtn) : null,
      restoreBox));
  }

  /** Follows the phase (the card shows while the keys can still matter). */
  function update() {
    render();
  }
  refresh();
  return { el, refresh, update };
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
