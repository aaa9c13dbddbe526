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
 *   published request digest, and the seated committee is the record's seats.
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

/** The seed this browser keeps for a session until its draw. @param {string} stream @param {string} user */
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
 * `{check, ok}`; `check` names a sentence (`draw.check_<check>`).
 * @param {any} s folded session state (`seedCommitment`, `draw`, `committee`)
 * @param {string|null} checkedDigest the pool digest this page recomputed, if it did
 */
export async function checkDraw(s, checkedDigest) {
  const record = s.draw?.record || {};
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
  const checks = [
    { check: "seed", ok: seedOk },
    { check: "pool", ok: record.pool_digest === published.pool_digest && (checkedDigest === null || checkedDigest === record.pool_digest) },
    { check: "request", ok: !!record.request_digest && record.request_digest === published.request_digest },
    { check: "committee", ok: seats.length > 0 && JSON.stringify(seats) === JSON.stringify(seated) },
  ];
  return checks;
}
