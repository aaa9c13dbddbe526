/**
 * Checking in the browser that a receipt's event is in the stream's Merkle log (回执收录校验):
 * the C2SP signed checkpoint (Ed25519 signed note) against the log key, and the RFC 9162
 * inclusion proof of the receipt's leaf hash against that checkpoint's root. The same checks
 * as `clients/logwatch.py` (`receipt_inclusion`), `crypto/checkpoint.py` and `crypto/merkle.py`.
 * @module logproof
 */

const enc = new TextEncoder();

/** Standard (padded) base64 to bytes; throws on anything else. @param {string} text */
export function unb64(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
    throw new Error("not base64");
  }
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** @param {Uint8Array} bytes */
export function b64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** @param {Uint8Array} a @param {Uint8Array} b */
function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** @param {...Uint8Array} parts */
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** @param {Uint8Array} data @returns {Promise<Uint8Array>} */
export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

/** RFC 9162 interior node: SHA-256(0x01 || left || right). @param {Uint8Array} l @param {Uint8Array} r */
export function nodeHash(l, r) {
  return sha256(concat(Uint8Array.of(1), l, r));
}

/** RFC 9162 leaf: SHA-256(0x00 || data). @param {Uint8Array} data */
export function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

/** @param {unknown} h */
const isHash = (h) => h instanceof Uint8Array && h.length === 32;

/**
 * RFC 9162 §2.1.3.2: does `proof` show that `leaf` is leaf `index` of the tree of `size`
 * leaves with root `root`? Never throws: malformed input is `false`. Sizes are JS numbers
 * (exact up to 2^53, far beyond any stream).
 * @param {Uint8Array} leaf @param {number} index @param {number} size
 * @param {Uint8Array[]} proof @param {Uint8Array} root
 */
export async function verifyInclusion(leaf, index, size, proof, root) {
  try {
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || size < 0) return false;
    if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof)) return false;
    // 1. leaf_index >= tree_size fails.
    if (index >= size) return false;
    // 2.-3. fn = leaf_index, sn = tree_size - 1, r = leaf hash.
    let fn = index;
    let sn = size - 1;
    let r = leaf;
    // 4. for each p in the proof:
    for (const p of proof) {
      if (!isHash(p)) return false;
      // a. if sn is 0, stop and fail.
      if (sn === 0) return false;
      // b. if LSB(fn) is set or fn equals sn: r = HASH(0x01 || p || r), then (if LSB(fn) is
      //    not set) shift fn and sn right until LSB(fn) is set or fn is 0; else r = HASH(0x01 || r || p).
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        r = await nodeHash(r, p);
      }
      // c. shift fn and sn right by one.
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    // 5. sn is 0 and r equals the root.
    return sn === 0 && equal(r, root);
  } catch {
    return false;
  }
}

/**
 * A C2SP verifier key `<name>+<hex key ID>+<base64(0x01 || Ed25519 public key)>`; the key ID
 * must be SHA-256(name || 0x0A || 0x01 || key)[:4].
 * @param {string} text
 * @returns {Promise<{name: string, id: Uint8Array, raw: Uint8Array, key: CryptoKey}>}
 */
export async function parseVerifierKey(text) {
  const parts = String(text).split("+");
  if (parts.length < 3) throw new Error("malformed log key");
  const [name, hexId] = parts;
  const material = unb64(parts.slice(2).join("+"));
  if (!name || /\s/.test(name) || !/^[0-9a-fA-F]{8}$/.test(hexId)) throw new Error("malformed log key");
  if (material.length !== 33 || material[0] !== 1) throw new Error("log key is not Ed25519");
  const raw = material.slice(1);
  const id = await keyHash(name, raw);
  const stated = Uint8Array.from(hexId.match(/../g) || [], (x) => parseInt(x, 16));
  if (!equal(id, stated)) throw new Error("log key ID does not match its name and key");
  const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
  return { name, id, raw, key };
}

/** The 4-byte key hash of a C2SP Ed25519 signer. @param {string} name @param {Uint8Array} raw */
export async function keyHash(name, raw) {
  return (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a, 0x01), raw))).slice(0, 4);
}

/**
 * Verify a signed note against one key and read it as a checkpoint of `origin`.
 * The signed message is the note text (up to and including the newline before the blank
 * line); the signature line is `— <name> <base64(key hash || signature)>`.
 * @param {string} note @param {Awaited<ReturnType<typeof parseVerifierKey>>} vkey @param {string} origin
 * @returns {Promise<{origin: string, size: number, root: Uint8Array, text: string}>}
 */
export async function openCheckpoint(note, vkey, origin) {
  const cut = note.lastIndexOf("\n\n");
  if (cut < 0) throw new Error("no signature block");
  const text = note.slice(0, cut + 1);
  const block = note.slice(cut + 2);
  if (!block.endsWith("\n")) throw new Error("malformed signature block");
  let verified = false;
  for (const line of block.slice(0, -1).split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error("malformed signature line");
    if (m[1] !== vkey.name) continue; // another signer: ignored, as the spec says
    const blob = unb64(m[2]);
    if (blob.length !== 4 + 64 || !equal(blob.slice(0, 4), vkey.id)) continue;
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, vkey.key, blob.slice(4), enc.encode(text));
    if (!ok) throw new Error("the checkpoint signature does not verify");
    verified = true;
  }
  if (!verified) throw new Error("the checkpoint is not signed by the log key");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || !/^(0|[1-9][0-9]{0,19})$/.test(lines[1])) throw new Error("not a checkpoint");
  if (lines[0] !== origin) throw new Error(`checkpoint of ${lines[0]}, not ${origin}`);
  const root = unb64(lines[2]);
  if (root.length !== 32) throw new Error("not a checkpoint");
  return { origin: lines[0], size: Number(lines[1]), root, text };
}

/** @param {string} stream */
const streamPath = (stream) => `/api/log/${encodeURIComponent(stream).replace(/%3A/gi, ":")}`;

/** @param {string} url @param {string} token */
async function getJson(url, token) {
  const r = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.message || r.statusText), { code: data.code || `http_${r.status}` });
  return data;
}

/**
 * The log key, pinned in this browser on first use: a different key later is refused.
 * @returns {Promise<{log: any, platform_key: string}>}
 */
export async function logKeys() {
  const keys = await (await fetch("/api/log/keys")).json();
  const pinned = localStorage.getItem("evalroom.log_key");
  if (pinned && pinned !== keys.log.verifier_key) throw new Error("the log key changed since this browser first saw it");
  if (!pinned) localStorage.setItem("evalroom.log_key", keys.log.verifier_key);
  return keys;
}

/**
 * Check a receipt's inclusion. Returns `{state: "pending"}` while no signed checkpoint covers
 * the receipt's seq, `{state: "verified", inclusion, checkpoint}` when everything checks out;
 * throws (with a reason) when anything fails.
 * @param {any} receipt the signed receipt body ({stream, seq, leaf_hash, …}) @param {string} token
 */
export async function checkReceiptInclusion(receipt, token) {
  const stream = String(receipt.stream);
  const seq = Number(receipt.seq);
  const keys = await logKeys();
  const vkey = await parseVerifierKey(keys.log.verifier_key);
  let latest;
  try {
    latest = await getJson(`${streamPath(stream)}/checkpoint`, token);
  } catch (err) {
    if (/** @type {any} */ (err).code === "no_checkpoint") return { state: "pending" };
    throw err;
  }
  const cp = await openCheckpoint(String(latest.note), vkey, `${keys.log.origin_prefix}/${stream}`);
  if (cp.size < seq) return { state: "pending", size: cp.size };
  const body = await getJson(`${streamPath(stream)}/proof/inclusion?seq=${seq}&size=${cp.size}`, token);
  const leaf = unb64(String(receipt.leaf_hash));
  if (!equal(leaf, unb64(String(body.leaf_hash)))) throw new Error(`${stream}#${seq} in the log is not the receipted event`);
  const proof = (body.proof || []).map((/** @type {string} */ p) => unb64(p));
  if (!(await verifyInclusion(leaf, seq - 1, cp.size, proof, cp.root))) {
    throw new Error(`the inclusion proof of ${stream}#${seq} does not verify`);
  }
  return {
    state: "verified",
    checkpoint: { size: cp.size, root: b64(cp.root) },
    inclusion: { stream, seq, size: cp.size, proof: body.proof, checkpoint: String(latest.note) },
  };
}

/** @param {number} n a positive safe integer */
function isPowerOfTwo(n) {
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

/** @param {number} n */
const half = (n) => Math.floor(n / 2);

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `size1` leaves with root `root1` is a
 * prefix of the tree of `size2` leaves with root `root2`? The same edge cases as
 * `crypto/merkle.py` (`verify_consistency`): `size1 > size2` or `size1 == 0` is `false`;
 * `size1 == size2` is `true` iff the proof is empty and the roots are equal. Never throws.
 * Sizes are JS numbers, so the bit operations are done arithmetically (exact up to 2^53).
 * @param {number} size1 @param {number} size2 @param {Uint8Array} root1 @param {Uint8Array} root2
 * @param {Uint8Array[]} proof
 */
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  try {
    if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size2 < 0) return false;
    if (size1 > size2 || size1 === 0 || !Array.isArray(proof)) return false;
    if (size1 === size2) {
      return proof.length === 0 && root1 instanceof Uint8Array && root2 instanceof Uint8Array && equal(root1, root2);
    }
    if (!isHash(root1) || !isHash(root2) || !proof.every(isHash)) return false;
    // 1. an empty proof fails.
    if (proof.length === 0) return false;
    // 2. if size1 is an exact power of 2, prepend first_hash (root1) to the proof.
    const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
    // 3. fn = first - 1, sn = second - 1.
    let fn = size1 - 1;
    let sn = size2 - 1;
    // 4. if LSB(fn) is set, shift fn and sn right until LSB(fn) is not set.
    while (fn % 2 === 1) {
      fn = half(fn);
      sn = half(sn);
    }
    // 5. fr = sr = the first value in the path.
    let fr = path[0];
    let sr = path[0];
    // 6. for each subsequent value c in the path:
    for (const c of path.slice(1)) {
      // a. if sn is 0, stop and fail.
      if (sn === 0) return false;
      // b. if LSB(fn) is set or fn equals sn: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr),
      //    then (if LSB(fn) is not set) shift fn and sn right until LSB(fn) is set or fn is 0;
      //    else sr = HASH(0x01 || sr || c).
      if (fn % 2 === 1 || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      // c. shift fn and sn right by one.
      fn = half(fn);
      sn = half(sn);
    }
    // 7. fr equals first_hash, sr equals second_hash and sn is 0.
    return equal(fr, root1) && equal(sr, root2) && sn === 0;
  } catch {
    return false;
  }
}

/** Where the last verified checkpoint of `stream` is kept for `user`. @param {string} user @param {string} stream */
const keptKey = (user, stream) => `evalroom.logwatch.${user}.${stream}`;
/** Where a detected fork's evidence (both signed notes) is kept. @param {string} user @param {string} stream */
const forkKey = (user, stream) => `evalroom.logfork.${user}.${stream}`;

/**
 * The last checkpoint of `stream` this browser verified for `user`, or null.
 * @param {string} user @param {string} stream
 * @returns {{size: number, root: Uint8Array, note: string}|null}
 */
export function keptCheckpoint(user, stream) {
  try {
    const v = JSON.parse(localStorage.getItem(keptKey(user, stream)) || "null");
    if (!v || !Number.isSafeInteger(v.size)) return null;
    return { size: v.size, root: unb64(String(v.root)), note: String(v.note) };
  } catch {
    return null;
  }
}

/**
 * The log watch of the supervisor's page (as `clients/logwatch.py`, `LogWatch.refresh`): fetch
 * the stream's latest signed checkpoint, verify it against the log key and, if a checkpoint
 * was kept, check the new one extends it (RFC 9162 consistency proof from the kept size; at
 * the same size, the same root). The new head is kept only if it does. Returns
 * `{state: "pending"}` while the stream has no checkpoint, `{state: "consistent", size, from}`
 * or `{state: "forked", kept, shown, why}` (the evidence, both signed notes, stays in
 * localStorage and keeps the stream reported as forked). Throws if the check cannot be made.
 * @param {string} stream @param {string} token @param {string} user
 */
export async function checkLogConsistency(stream, token, user) {
  const evidence = JSON.parse(localStorage.getItem(forkKey(user, stream)) || "null");
  if (evidence) return { state: "forked", stream, kept: evidence.kept.size, shown: evidence.shown.size, why: evidence.why };
  const keys = await logKeys();
  const vkey = await parseVerifierKey(keys.log.verifier_key);
  // Nothing kept yet (a stream just created): ask the listing first, which answers an empty
  // list rather than a 404 the browser would log as an error while no checkpoint exists.
  if (!keptCheckpoint(user, stream)) {
    const listed = await getJson(`${streamPath(stream)}/checkpoints?after=0&limit=1`, token);
    if (!(listed.checkpoints || []).length) return { state: "pending", stream };
  }
  let latest;
  try {
    latest = await getJson(`${streamPath(stream)}/checkpoint`, token);
  } catch (err) {
    if (/** @type {any} */ (err).code === "no_checkpoint") return { state: "pending", stream };
    throw err;
  }
  const note = String(latest.note);
  const shown = await openCheckpoint(note, vkey, `${keys.log.origin_prefix}/${stream}`);
  const kept = keptCheckpoint(user, stream);
  if (kept) {
    let why = "";
    if (shown.size < kept.size) why = "shrank";
    else if (shown.size === kept.size) {
      if (!(await verifyConsistency(kept.size, shown.size, kept.root, shown.root, []))) why = "same_size";
    } else {
      const body = await getJson(`${streamPath(stream)}/proof/consistency?from=${kept.size}&to=${shown.size}`, token);
      let proof = null;
      try {
        proof = (body.proof || []).map((/** @type {string} */ p) => unb64(p));
      } catch {
        /* a malformed proof proves nothing */
      }
      if (!proof || !(await verifyConsistency(kept.size, shown.size, kept.root, shown.root, proof))) why = "proof";
    }
    if (why) {
      const fork = { why, kept: { size: kept.size, note: kept.note }, shown: { size: shown.size, note } };
      localStorage.setItem(forkKey(user, stream), JSON.stringify(fork));
      return { state: "forked", stream, kept: kept.size, shown: shown.size, why };
    }
  }
  localStorage.setItem(keptKey(user, stream), JSON.stringify({ size: shown.size, root: b64(shown.root), note }));
  return { state: "consistent", stream, size: shown.size, from: kept ? kept.size : null };
}
