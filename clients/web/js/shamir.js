/**
 * k-of-n shares of a tender's 32-byte opening secret, byte for byte as crypto/shamir.py makes
 * and reads them (share strings `evalroom-share-1:<k>:<n>:<index>:<set id>:<payload>:<check>`).
 *
 * The secret is cut into two 16-byte halves, each shared as pycryptodome's
 * `Crypto.Protocol.SecretSharing.Shamir` shares it: a random polynomial of degree k − 1 over
 * GF(2^128) (modulus 1 + x + x² + x⁷ + x¹²⁸; a 16-byte value read big-endian, its lowest bit
 * the constant coefficient) whose constant term is the half, evaluated at x = 1..n. Any k
 * shares rebuild the secret; k − 1 say nothing about it. tests/test_browser_agency.py checks
 * both directions against the Python module.
 * @module shamir
 */
import { b64u, unb64u } from "./keys.js";

const PREFIX = "evalroom-share-1";
const SHARE = /^(evalroom-share-1):([1-9][0-9]{0,2}):([1-9][0-9]{0,2}):([1-9][0-9]{0,2}):([0-9a-f]{16}):([A-Za-z0-9_-]{43}):([0-9a-f]{8})$/;
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const MAX_SHARES = 255;
const MODULUS = (1n << 128n) | 0x87n;

/** @param {bigint} a @param {bigint} b the product in GF(2^128) */
export function gfMul(a, b) {
  let z = 0n;
  let v = a;
  while (b) {
    if (b & 1n) z ^= v;
    v <<= 1n;
    if (v >> 128n) v ^= MODULUS;
    b >>= 1n;
  }
  return z;
}

/** @param {bigint} a the inverse in GF(2^128): a^(2^128 − 2) */
export function gfInverse(a) {
  if (!a) throw new Error("inversion of zero");
  let result = 1n;
  let base = a;
  let e = (1n << 128n) - 2n;
  while (e) {
    if (e & 1n) result = gfMul(result, base);
    base = gfMul(base, base);
    e >>= 1n;
  }
  return result;
}

/** @param {Uint8Array} bytes 16 bytes, big-endian */
function toElement(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** @param {bigint} v @returns {Uint8Array} 16 bytes, big-endian */
function fromElement(v) {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * pycryptodome's `Shamir.split(k, n, half)`: the values at x = 1..n of a random polynomial
 * whose constant term is the 16-byte `half` (Horner, highest coefficient first).
 * @param {number} k @param {number} n @param {Uint8Array} half
 * @returns {Uint8Array[]} n values of 16 bytes
 */
export function splitHalf(k, n, half) {
  const coeffs = [];
  for (let i = 0; i < k - 1; i++) coeffs.push(toElement(crypto.getRandomValues(new Uint8Array(16))));
  coeffs.push(toElement(half));
  const out = [];
  for (let x = 1; x <= n; x++) {
    let y = 0n;
    for (const c of coeffs) y = gfMul(BigInt(x), y) ^ c;
    out.push(fromElement(y));
  }
  return out;
}

/**
 * pycryptodome's `Shamir.combine`: the constant term through the given points.
 * @param {[number, Uint8Array][]} points
 */
export function combineHalf(points) {
  let result = 0n;
  for (let j = 0; j < points.length; j++) {
    const xj = BigInt(points[j][0]);
    let num = 1n;
    let den = 1n;
    for (let m = 0; m < points.length; m++) {
      if (m === j) continue;
      const xm = BigInt(points[m][0]);
      num = gfMul(num, xm);
      den = gfMul(den, xj ^ xm);
    }
    result ^= gfMul(gfMul(toElement(points[j][1]), num), gfInverse(den));
  }
  return fromElement(result);
}

/** @param {string} body @returns {Promise<string>} 8 hex digits */
async function checkValue(body) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${PREFIX} check\0${body}`)));
  return Array.from(digest.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Split a 32-byte secret into n share strings, any k of which rebuild it (crypto/shamir.py's
 * `split_secret`).
 * @param {Uint8Array} secret @param {number} k @param {number} n
 * @returns {Promise<string[]>}
 */
export async function splitSecret(secret, k, n) {
  if (secret.length !== 32) throw new Error("the secret must be 32 bytes");
  if (!(Number.isInteger(k) && Number.isInteger(n) && 2 <= k && k <= n && n <= MAX_SHARES)) {
    throw new Error(`need 2 <= k <= n <= ${MAX_SHARES}`);
  }
  const setId = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const first = splitHalf(k, n, secret.subarray(0, 16));
  const second = splitHalf(k, n, secret.subarray(16));
  const shares = [];
  for (let i = 0; i < n; i++) {
    const payload = new Uint8Array(32);
    payload.set(first[i]);
    payload.set(second[i], 16);
    const body = `${PREFIX}:${k}:${n}:${i + 1}:${setId}:${b64u(payload)}`;
    payload.fill(0);
    shares.push(`${body}:${await checkValue(body)}`);
  }
  return shares;
}

/**
 * The public facts of a share string, checked as crypto/shamir.py checks it (format, checksum,
 * ranges, canonical payload); null when it is not a valid share. Nothing secret is computed.
 * @param {string} text
 * @returns {Promise<{share: string, k: number, n: number, index: number, set: string} | null>}
 */
export async function inspectShare(text) {
  const share = text.trim();
  const m = SHARE.exec(share);
  if (!m) return null;
  if ((await checkValue(share.slice(0, share.lastIndexOf(":")))) !== m[7]) return null;
  const [k, n, index] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (!(2 <= k && k <= n && n <= MAX_SHARES && 1 <= index && index <= n)) return null;
  // 43 characters carry 258 bits for 32 bytes: the 2 spare bits must be zero.
  if (B64URL.indexOf(m[6][42]) % 4 !== 0) return null;
  return { share, k, n, index, set: m[5] };
}

/**
 * Rebuild the 32-byte secret from k share strings of one split (the page never needs to; the
 * cross-language test does). Throws on a malformed, mixed or missing share.
 * @param {string[]} texts
 */
export async function combineShares(texts) {
  const infos = [];
  for (const text of texts) {
    const info = await inspectShare(text);
    if (!info) throw new Error("malformed_share");
    infos.push(info);
  }
  const first = infos[0];
  if (!first || infos.some((s) => s.set !== first.set || s.k !== first.k || s.n !== first.n)) throw new Error("mixed_sets");
  const seen = new Map(infos.map((s) => [s.index, s]));
  if (seen.size !== infos.length) throw new Error("duplicate_share");
  if (seen.size < first.k) throw new Error("too_few_shares");
  const base = [...seen.values()].sort((a, b) => a.index - b.index).slice(0, first.k);
  const payloads = base.map((s) => /** @type {[number, Uint8Array]} */ ([s.index, unb64u(s.share.split(":")[5])]));
  const secret = new Uint8Array(32);
  secret.set(combineHalf(payloads.map(([x, p]) => [x, p.subarray(0, 16)])));
  secret.set(combineHalf(payloads.map(([x, p]) => [x, p.subarray(16)])), 16);
  return secret;
}
