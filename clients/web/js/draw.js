/**
 * The expert draw (专家抽取) as the supervisor's page runs and checks it, as
 * `evalroom-supervisor commit-seed` / `draw` do (`clients/supervisor.py`; the rule is
 * `evalroom/domain/draw.py`):
 * - the pool snapshot from `GET /api/pool`, its digest recomputed here (`poolDigest`: hex
 *   SHA-256 of the canonical JSON of `{"experts": [...]}`), a served digest that differs refused;
 * - a 32-byte seed made here (`crypto.getRandomValues`), kept in this browser until the draw,
 *   only its SHA-256 published with the checked digest (`session.commit_seed`);
 * - once drawn, `checkDraw` checks the record against what this page saw: the revealed seed
 *   hashes to the published commitment, the record pins the digest checked here and the
 *   published request digest (the request, sent with the record, hashes to it), the seated
 *   committee is the record's seats, and `recomputeDraw` draws the committee again from the
 *   checked snapshot, the request and the seed with the same rule, replacements replayed.
 * @module draw
 */
import { canonicalBytes } from "./canonical.js";

/** @param {Uint8Array} bytes */
export function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} text */
export function unhex(text) {
  if (!/^([0-9a-f]{2})+$/.test(text)) throw new Error("not hex");
  return new Uint8Array(text.match(/../g)?.map((x) => parseInt(x, 16)) || []);
}

/** Hex SHA-256. @param {Uint8Array} bytes */
export async function sha256Hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

/**
 * `pool_digest`: the snapshot's canonical JSON (keys sorted, no spaces, text as UTF-8; the
 * snapshot holds only strings, booleans and lists) hashed.
 * @param {{experts: any[]}} snapshot
 */
export function poolDigest(snapshot) {
  return sha256Hex(canonicalBytes(snapshot));
}

/**
 * `GET /api/pool`, the digest recomputed here. Resolves with the snapshot, its digest and
 * each expert's name by id; a served digest that differs is an error (`pool_mismatch`).
 * @param {string} token
 */
export async function fetchCheckedPool(token) {
  const r = await fetch("/api/pool", { headers: { authorization: `Bearer ${token}` } });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.message || r.statusText), { code: data.code || `http_${r.status}` });
  if (!Array.isArray(data?.snapshot?.experts)) throw Object.assign(new Error("bad reply"), { code: "bad_pool" });
  const digest = await poolDigest(data.snapshot);
  if (digest !== data.digest) throw Object.assign(new Error(digest), { code: "pool_mismatch", served: data.digest, computed: digest });
  /** @type {Record<string, string>} */
  const names = Object.fromEntries(data.snapshot.experts.map((/** @type {any} */ e) => [e.id, e.name]));
  return { snapshot: data.snapshot, digest, names, count: data.snapshot.experts.length };
}

/** A fresh 32-byte seed, hex, and its commitment (hex SHA-256 of the bytes). */
export async function newSeed() {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  return { seed: hex(seed), commitment: await sha256Hex(seed) };
}

const SEED_KEY = (/** @type {string} */ stream, /** @type {string} */ user) => `evalroom.drawseed.${user}.${stream}`;

/** What this browser keeps for a session until its draw: JSON `{commitment, seed}`. @param {string} stream @param {string} user */
export function keptSeed(stream, user) {
  return localStorage.getItem(SEED_KEY(stream, user));
}

/** @param {string} stream @param {string} user @param {string|null} seed */
export function keepSeed(stream, user, seed) {
  if (seed === null) localStorage.removeItem(SEED_KEY(stream, user));
  else localStorage.setItem(SEED_KEY(stream, user), seed);
}

/**
 * Check a recorded draw against what this page saw. Returns one line per check,
 * `{check, ok}`; `check` names a sentence (`draw.check_<check>`). With the pool snapshot this
 * page checked, the committee is also recomputed from it, the request and the revealed seed
 * (`recomputed`); without it, that line says it could not be made (`ok: null`).
 * @param {any} s folded session state (`seedCommitment`, `draw`, `committee`)
 * @param {{snapshot: any, digest: string}|null} pool the snapshot this page checked, if any
 */
export async function checkDraw(s, pool) {
  const record = s.draw?.record || {};
  const request = s.draw?.request || null;
  const published = s.drawCommitment || s.seedCommitment || {};
  let seedOk = false;
  try {
    seedOk = (await sha256Hex(unhex(String(s.draw?.seed || "")))) === published.commitment
      && record.seed_commitment === published.commitment;
  } catch {
    seedOk = false;
  }
  const seats = (record.seats || []).map((/** @type {any} */ x) => x.expert_id).sort();
  const seated = s.committee.map((/** @type {any} */ m) => m.expert).sort();
  const requestOk = !!record.request_digest && record.request_digest === published.request_digest
    && !!request && (await sha256Hex(canonicalBytes(request))) === published.request_digest;
  const poolOk = record.pool_digest === published.pool_digest && (!pool || pool.digest === record.pool_digest);
  /** @type {boolean|null} */ let recomputed = null;
  if (pool && poolOk && requestOk && seedOk) {
    try {
      recomputed = await drawReproduces(pool.snapshot, request, s.draw.seed, record);
    } catch {
      recomputed = false;
    }
  }
  return [
    { check: "seed", ok: seedOk },
    { check: "pool", ok: poolOk },
    { check: "request", ok: requestOk },
    { check: "committee", ok: seats.length > 0 && JSON.stringify(seats) === JSON.stringify(seated) },
    { check: "recomputed", ok: recomputed },
  ];
}

// --- recomputing the draw (as `evalroom/domain/draw.py` draw_experts, redraw) ---------------

const TWO_256 = 1n << 256n;

/** HMAC-SHA256(seed, canonical JSON of label) as a big integer. @param {CryptoKey} key @param {any[]} label */
async function hmacInt(key, label) {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, canonicalBytes(label)));
  return BigInt("0x" + hex(mac));
}

/** `_pick_index`: an unbiased index in [0, n) by rejection sampling. @param {CryptoKey} key @param {any[]} label @param {number} n */
async function pickIndex(key, label, n) {
  const N = BigInt(n);
  const limit = TWO_256 - (TWO_256 % N);
  for (let attempt = 0; ; attempt++) {
    const x = await hmacInt(key, [...label, attempt]);
    if (x < limit) return Number(x % N);
  }
}

/** Decimal strings compared as hundredths (credit scores have at most 2 decimals). @param {string} a @param {string} b */
function decimalLess(a, b) {
  return Number(a) < Number(b);
}

/** `apply_avoidance`: the eligible ids and every (expert, reason) excluded. @param {any} pool @param {any} req */
export function avoidance(pool, req) {
  const eligible = [];
  /** @type {[string, string][]} */ const excluded = [];
  for (const e of pool.experts) {
    const reasons = [];
    if (req.bidders.includes(e.employer)) reasons.push("employed_by_bidder");
    if (e.employer === req.tenderer) reasons.push("employed_by_tenderer");
    for (const c of [...new Set(e.relations)].filter((x) => req.bidders.includes(x)).sort()) reasons.push("related_to_bidder");
    if (decimalLess(e.credit, req.min_credit)) reasons.push("credit_below_threshold");
    if (!e.available) reasons.push("unavailable");
    if (req.avoid_tenderer_region && e.region === req.tenderer_region) reasons.push("tenderer_region");
    if (req.excluded.includes(e.id)) reasons.push("excluded");
    for (const r of reasons) excluded.push([e.id, r]);
    if (!reasons.length) eligible.push(e.id);
  }
  return { eligible, excluded };
}

/** `_candidates`. @param {any} pool @param {Set<string>} eligible @param {any} req @param {any} slot @param {Set<string>} taken */
function candidates(pool, eligible, req, slot, taken) {
  const region = req.venue_regions[slot.venue];
  return pool.experts.filter((/** @type {any} */ e) => eligible.has(e.id) && !taken.has(e.id) && e.specialties.includes(slot.specialty)
    && (!req.match_venue_region || e.region === region)).map((/** @type {any} */ e) => e.id);
}

/** `_unfillable`: whether some open seat cannot be filled (augmenting paths). @param {[any, number][]} needs @param {Map<any, string[]>} fits @param {Set<string>} taken */
function unfillable(needs, fits, taken) {
  const seats = needs.flatMap(([slot, n]) => Array(n).fill(slot));
  /** @type {Map<string, number>} */ const holder = new Map();
  /** @param {number} seat @param {Set<string>} tried @returns {boolean} */
  const seatSomeone = (seat, tried) => {
    for (const id of fits.get(seats[seat]) || []) {
      if (taken.has(id) || tried.has(id)) continue;
      tried.add(id);
      const held = holder.get(id);
      if (held === undefined || seatSomeone(held, tried)) {
        holder.set(id, seat);
        return true;
      }
    }
    return false;
  };
  return seats.some((_, i) => !seatSomeone(i, new Set()));
}

/**
 * The committee recomputed from the snapshot, the request and the seed, replacements replayed
 * from the record: `{seats: [{expert_id, specialty, venue, candidates}], excluded}`. Throws if
 * the slots cannot be filled (the server would have recorded `session.draw_failed`).
 * @param {any} pool @param {any} req @param {string} seedHex @param {any[]} replacements
 */
export async function recomputeDraw(pool, req, seedHex, replacements = []) {
  const key = await crypto.subtle.importKey("raw", unhex(seedHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const avoided = avoidance(pool, req);
  const eligible = new Set(avoided.eligible);
  const fits = new Map(req.slots.map((/** @type {any} */ slot) => [slot, candidates(pool, eligible, req, slot, new Set())]));
  /** @type {[any, number][]} */ const needs = req.slots.map((/** @type {any} */ slot) => [slot, slot.count]);
  if (unfillable(needs, fits, new Set())) throw new Error("not_enough_experts");
  /** @type {Set<string>} */ const taken = new Set();
  const seats = [];
  for (const [index, slot] of req.slots.entries()) {
    for (let i = 0; i < slot.count; i++) {
      needs[index][1] -= 1;
      const remaining = (fits.get(slot) || []).filter((id) => !taken.has(id));
      const count = remaining.length;
      for (let k = 0; ; k++) {
        const id = remaining[await pickIndex(key, ["draw", slot.specialty, slot.venue, i, k], remaining.length)];
        if (!unfillable(needs, fits, new Set([...taken, id]))) {
          seats.push({ expert_id: id, specialty: slot.specialty, venue: slot.venue, candidates: count });
          taken.add(id);
          break;
        }
        remaining.splice(remaining.indexOf(id), 1);
      }
    }
  }
  const excluded = [...avoided.excluded];
  /** @type {Set<string>} */ const withdrawn = new Set();
  for (const [round, r] of replacements.entries()) {
    withdrawn.add(r.withdrawn_expert_id);
    const at = seats.findIndex((x) => x.expert_id === r.withdrawn_expert_id);
    if (at < 0) throw new Error("not_in_committee");
    const seat = seats[at];
    const free = new Set([...eligible].filter((id) => !withdrawn.has(id)));
    const pick = candidates(pool, free, req, { specialty: seat.specialty, venue: seat.venue }, new Set(seats.map((x) => x.expert_id)));
    if (!pick.length) throw new Error("not_enough_experts");
    const index = await pickIndex(key, ["redraw", round + 1, seat.specialty, seat.venue], pick.length);
    seats[at] = { ...seat, expert_id: pick[index], candidates: pick.length };
    excluded.push([r.withdrawn_expert_id, "withdrawn"]);
  }
  return { seats, excluded };
}

/**
 * Recompute the recorded draw and compare it with the record: seats in order (who, which
 * slot, from how many), replacements, and every exclusion (expert, reason). Resolves true when
 * they agree.
 * @param {any} snapshot @param {any} req @param {string} seedHex @param {any} record
 */
export async function drawReproduces(snapshot, req, seedHex, record) {
  const again = await recomputeDraw(snapshot, req, seedHex, record.replacements || []);
  const seats = (/** @type {any[]} */ xs) => JSON.stringify(xs.map((x) => [x.expert_id, x.specialty, x.venue, x.candidates]));
  const excl = (/** @type {[string, string][]} */ xs) => JSON.stringify(xs.map(([a, b]) => `${a}/${b}`).sort());
  return seats(again.seats) === seats(record.seats || [])
    && excl(again.excluded) === excl((record.exclusions || []).map((/** @type {any} */ x) => [x.expert_id, x.reason]));
}
