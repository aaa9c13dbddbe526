/**
 * ChaCha20-Poly1305 (RFC 8439), the AEAD age seals with, which WebCrypto does not offer.
 *
 * Written for this project from the RFC; no third-party code. Constant-time style: the
 * only branches and indices depend on lengths, never on key, nonce or data bytes, and
 * there are no table lookups.
 *
 * - ChaCha20 keeps its sixteen 32-bit state words in local variables and works with
 *   `| 0`, `^`, shifts and rotations only (all exact 32-bit integer operations in JS).
 * - Poly1305 keeps the accumulator and `r` in ten 13-bit limbs (130 bits). A product of a
 *   limb (< 2^14.1 before carrying) by `5·r` (< 2^15.4) is < 2^29.5, and the carry is taken
 *   after every five products, so every intermediate value stays below 2^32: integers the
 *   engine computes exactly, and `>>> 13` is a correct carry.
 * - The final reduction modulo 2^130 - 5 selects with a mask, and {@link ChaCha20Poly1305#open}
 *   compares tags by OR-ing byte differences, then decrypts only if the tag matched.
 *
 * The module is tested in the page against the RFC 8439 vectors (sections 2.3-2.8 and
 * appendix A) and against Python's `cryptography` on random inputs (tests/test_browser_seal.py).
 * @module chacha20poly1305
 */

export const KEY_SIZE = 32;
export const NONCE_SIZE = 12;
export const TAG_SIZE = 16;

/** The byte order of this machine; the keystream is produced as 32-bit words. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** @param {Uint8Array} b @param {number} i */
function load32(b, i) {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/** @param {Uint8Array} b @param {number} i @param {number} v */
function store32(b, i, v) {
  b[i] = v & 0xff;
  b[i + 1] = (v >>> 8) & 0xff;
  b[i + 2] = (v >>> 16) & 0xff;
  b[i + 3] = (v >>> 24) & 0xff;
}

/**
 * @param {Uint8Array} bytes @param {number} size @param {string} what
 */
function checkLength(bytes, size, what) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== size) {
    throw new Error(`chacha20poly1305: ${what} must be ${size} bytes`);
  }
}

// --- ChaCha20 ------------------------------------------------------------------------------

/**
 * One ChaCha20 block (RFC 8439 2.3): 20 rounds over the state, plus the input state.
 * @param {Int32Array} s the 16-word input state (constants, key, counter, nonce)
 * @param {Int32Array} out the 16 output words
 */
function chachaBlock(s, out) {
  let x0 = s[0], x1 = s[1], x2 = s[2], x3 = s[3];
  let x4 = s[4], x5 = s[5], x6 = s[6], x7 = s[7];
  let x8 = s[8], x9 = s[9], x10 = s[10], x11 = s[11];
  let x12 = s[12], x13 = s[13], x14 = s[14], x15 = s[15];
  for (let i = 0; i < 10; i++) {
    // Column round: quarter rounds on (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15).
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 16) | (x12 >>> 16);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 12) | (x4 >>> 20);
    x0 = (x0 + x4) | 0; x12 ^= x0; x12 = (x12 << 8) | (x12 >>> 24);
    x8 = (x8 + x12) | 0; x4 ^= x8; x4 = (x4 << 7) | (x4 >>> 25);

    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 16) | (x13 >>> 16);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 12) | (x5 >>> 20);
    x1 = (x1 + x5) | 0; x13 ^= x1; x13 = (x13 << 8) | (x13 >>> 24);
    x9 = (x9 + x13) | 0; x5 ^= x9; x5 = (x5 << 7) | (x5 >>> 25);

    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 16) | (x14 >>> 16);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 12) | (x6 >>> 20);
    x2 = (x2 + x6) | 0; x14 ^= x2; x14 = (x14 << 8) | (x14 >>> 24);
    x10 = (x10 + x14) | 0; x6 ^= x10; x6 = (x6 << 7) | (x6 >>> 25);

    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 16) | (x15 >>> 16);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 12) | (x7 >>> 20);
    x3 = (x3 + x7) | 0; x15 ^= x3; x15 = (x15 << 8) | (x15 >>> 24);
    x11 = (x11 + x15) | 0; x7 ^= x11; x7 = (x7 << 7) | (x7 >>> 25);

    // Diagonal round: (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14).
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 16) | (x15 >>> 16);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 12) | (x5 >>> 20);
    x0 = (x0 + x5) | 0; x15 ^= x0; x15 = (x15 << 8) | (x15 >>> 24);
    x10 = (x10 + x15) | 0; x5 ^= x10; x5 = (x5 << 7) | (x5 >>> 25);

    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 16) | (x12 >>> 16);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 12) | (x6 >>> 20);
    x1 = (x1 + x6) | 0; x12 ^= x1; x12 = (x12 << 8) | (x12 >>> 24);
    x11 = (x11 + x12) | 0; x6 ^= x11; x6 = (x6 << 7) | (x6 >>> 25);

    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 16) | (x13 >>> 16);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 12) | (x7 >>> 20);
    x2 = (x2 + x7) | 0; x13 ^= x2; x13 = (x13 << 8) | (x13 >>> 24);
    x8 = (x8 + x13) | 0; x7 ^= x8; x7 = (x7 << 7) | (x7 >>> 25);

    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 16) | (x14 >>> 16);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 12) | (x4 >>> 20);
    x3 = (x3 + x4) | 0; x14 ^= x3; x14 = (x14 << 8) | (x14 >>> 24);
    x9 = (x9 + x14) | 0; x4 ^= x9; x4 = (x4 << 7) | (x4 >>> 25);
  }
  out[0] = (x0 + s[0]) | 0; out[1] = (x1 + s[1]) | 0;
  out[2] = (x2 + s[2]) | 0; out[3] = (x3 + s[3]) | 0;
  out[4] = (x4 + s[4]) | 0; out[5] = (x5 + s[5]) | 0;
  out[6] = (x6 + s[6]) | 0; out[7] = (x7 + s[7]) | 0;
  out[8] = (x8 + s[8]) | 0; out[9] = (x9 + s[9]) | 0;
  out[10] = (x10 + s[10]) | 0; out[11] = (x11 + s[11]) | 0;
  out[12] = (x12 + s[12]) | 0; out[13] = (x13 + s[13]) | 0;
  out[14] = (x14 + s[14]) | 0; out[15] = (x15 + s[15]) | 0;
}

/**
 * The ChaCha20 input state for a key, block counter and nonce.
 * @param {Uint8Array} key 32 bytes @param {number} counter @param {Uint8Array} nonce 12 bytes
 */
function initState(key, counter, nonce) {
  const s = new Int32Array(16);
  s[0] = 0x61707865; // "expand 32-byte k"
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (let i = 0; i < 8; i++) s[4 + i] = load32(key, 4 * i);
  s[12] = counter | 0;
  for (let i = 0; i < 3; i++) s[13 + i] = load32(nonce, 4 * i);
  return s;
}

/**
 * The 64-byte ChaCha20 block for a key, counter and nonce (RFC 8439 2.3).
 * @param {Uint8Array} key @param {number} counter @param {Uint8Array} nonce
 * @returns {Uint8Array}
 */
export function chacha20Block(key, counter, nonce) {
  checkLength(key, KEY_SIZE, "key");
  checkLength(nonce, NONCE_SIZE, "nonce");
  const words = new Int32Array(16);
  chachaBlock(initState(key, counter, nonce), words);
  const out = new Uint8Array(64);
  for (let i = 0; i < 16; i++) store32(out, 4 * i, words[i]);
  return out;
}

/**
 * XOR `input` with the keystream of (state, from its block counter) into `out`.
 * @param {Int32Array} s the state; its counter word advances
 * @param {Uint8Array} input @param {Uint8Array} out at least as long as input
 */
function xorKeystream(s, input, out) {
  const words = new Int32Array(16);
  const ks = new Uint8Array(words.buffer);
  const n = input.length;
  for (let pos = 0; pos < n; pos += 64) {
    chachaBlock(s, words);
    s[12] = (s[12] + 1) | 0;
    if (s[12] === 0 && pos + 64 < n) throw new Error("chacha20poly1305: block counter overflow");
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < 16; i++) {
        const w = words[i];
        words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
      }
    }
    const end = Math.min(64, n - pos);
    for (let i = 0; i < end; i++) out[pos + i] = input[pos + i] ^ ks[i];
  }
}

/**
 * ChaCha20 encryption (RFC 8439 2.4): XOR `input` with the keystream from block `counter`.
 * @param {Uint8Array} key @param {number} counter @param {Uint8Array} nonce @param {Uint8Array} input
 * @returns {Uint8Array}
 */
export function chacha20(key, counter, nonce, input) {
  checkLength(key, KEY_SIZE, "key");
  checkLength(nonce, NONCE_SIZE, "nonce");
  const out = new Uint8Array(input.length);
  xorKeystream(initState(key, counter, nonce), input, out);
  return out;
}

// --- Poly1305 ------------------------------------------------------------------------------

/** Poly1305 (RFC 8439 2.5) over 13-bit limbs; feed with `update`, then `finish` once. */
export class Poly1305 {
  /** @param {Uint8Array} key 32 bytes: r (clamped here) then s */
  constructor(key) {
    checkLength(key, 32, "Poly1305 key");
    /** r, clamped, in ten 13-bit limbs */
    this.r = new Uint16Array(10);
    /** the accumulator h, ten limbs (may exceed 13 bits until `finish`) */
    this.h = new Uint32Array(10);
    /** s as eight 16-bit words */
    this.pad = new Uint16Array(8);
    /** a partial block waiting for more input */
    this.buffer = new Uint8Array(16);
    this.buffered = 0;
    this.done = false;
    const t = new Uint16Array(8);
    for (let i = 0; i < 8; i++) {
      let lo = key[2 * i];
      let hi = key[2 * i + 1];
      // Clamping (2.5.1): the top four bits of bytes 3, 7, 11, 15 and the low two bits of
      // bytes 4, 8, 12 are cleared. Those are fixed positions, not data-dependent branches.
      if (i === 1 || i === 3 || i === 5 || i === 7) hi &= 0x0f;
      if (i === 2 || i === 4 || i === 6) lo &= 0xfc;
      t[i] = lo | (hi << 8);
      this.pad[i] = key[16 + 2 * i] | (key[17 + 2 * i] << 8);
    }
    const r = this.r;
    r[0] = t[0] & 0x1fff;
    r[1] = ((t[0] >>> 13) | (t[1] << 3)) & 0x1fff;
    r[2] = ((t[1] >>> 10) | (t[2] << 6)) & 0x1fff;
    r[3] = ((t[2] >>> 7) | (t[3] << 9)) & 0x1fff;
    r[4] = ((t[3] >>> 4) | (t[4] << 12)) & 0x1fff;
    r[5] = (t[4] >>> 1) & 0x1fff;
    r[6] = ((t[4] >>> 14) | (t[5] << 2)) & 0x1fff;
    r[7] = ((t[5] >>> 11) | (t[6] << 5)) & 0x1fff;
    r[8] = ((t[6] >>> 8) | (t[7] << 8)) & 0x1fff;
    r[9] = (t[7] >>> 5) & 0x07ff;
  }

  /**
   * Absorb whole 16-byte blocks `m[from .. to)`; `hibit` is 1 << 11 (the 2^128 bit in limb 9)
   * for full blocks and 0 for the final, already padded, partial block.
   * @param {Uint8Array} m @param {number} from @param {number} to @param {number} hibit
   */
  blocks(m, from, to, hibit) {
    const r = this.r;
    const h = this.h;
    const r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r4 = r[4];
    const r5 = r[5], r6 = r[6], r7 = r[7], r8 = r[8], r9 = r[9];
    // 2^130 = 5 (mod p): a product landing at limb i + 10 folds back to limb i times 5.
    const s1 = 5 * r1, s2 = 5 * r2, s3 = 5 * r3, s4 = 5 * r4, s5 = 5 * r5;
    const s6 = 5 * r6, s7 = 5 * r7, s8 = 5 * r8, s9 = 5 * r9;
    let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4];
    let h5 = h[5], h6 = h[6], h7 = h[7], h8 = h[8], h9 = h[9];
    for (let p = from; p < to; p += 16) {
      const t0 = m[p] | (m[p + 1] << 8);
      const t1 = m[p + 2] | (m[p + 3] << 8);
      const t2 = m[p + 4] | (m[p + 5] << 8);
      const t3 = m[p + 6] | (m[p + 7] << 8);
      const t4 = m[p + 8] | (m[p + 9] << 8);
      const t5 = m[p + 10] | (m[p + 11] << 8);
      const t6 = m[p + 12] | (m[p + 13] << 8);
      const t7 = m[p + 14] | (m[p + 15] << 8);
      h0 += t0 & 0x1fff;
      h1 += ((t0 >>> 13) | (t1 << 3)) & 0x1fff;
      h2 += ((t1 >>> 10) | (t2 << 6)) & 0x1fff;
      h3 += ((t2 >>> 7) | (t3 << 9)) & 0x1fff;
      h4 += ((t3 >>> 4) | (t4 << 12)) & 0x1fff;
      h5 += (t4 >>> 1) & 0x1fff;
      h6 += ((t4 >>> 14) | (t5 << 2)) & 0x1fff;
      h7 += ((t5 >>> 11) | (t6 << 5)) & 0x1fff;
      h8 += ((t6 >>> 8) | (t7 << 8)) & 0x1fff;
      h9 += (t7 >>> 5) | hibit;

      // h *= r (mod 2^130 - 5), limb by limb; c carries into the next limb.
      let c = 0;
      let d0 = c + h0 * r0 + h1 * s9 + h2 * s8 + h3 * s7 + h4 * s6;
      c = d0 >>> 13; d0 &= 0x1fff;
      d0 += h5 * s5 + h6 * s4 + h7 * s3 + h8 * s2 + h9 * s1;
      c += d0 >>> 13; d0 &= 0x1fff;

      let d1 = c + h0 * r1 + h1 * r0 + h2 * s9 + h3 * s8 + h4 * s7;
      c = d1 >>> 13; d1 &= 0x1fff;
      d1 += h5 * s6 + h6 * s5 + h7 * s4 + h8 * s3 + h9 * s2;
      c += d1 >>> 13; d1 &= 0x1fff;

      let d2 = c + h0 * r2 + h1 * r1 + h2 * r0 + h3 * s9 + h4 * s8;
      c = d2 >>> 13; d2 &= 0x1fff;
      d2 += h5 * s7 + h6 * s6 + h7 * s5 + h8 * s4 + h9 * s3;
      c += d2 >>> 13; d2 &= 0x1fff;

      let d3 = c + h0 * r3 + h1 * r2 + h2 * r1 + h3 * r0 + h4 * s9;
      c = d3 >>> 13; d3 &= 0x1fff;
      d3 += h5 * s8 + h6 * s7 + h7 * s6 + h8 * s5 + h9 * s4;
      c += d3 >>> 13; d3 &= 0x1fff;

      let d4 = c + h0 * r4 + h1 * r3 + h2 * r2 + h3 * r1 + h4 * r0;
      c = d4 >>> 13; d4 &= 0x1fff;
      d4 += h5 * s9 + h6 * s8 + h7 * s7 + h8 * s6 + h9 * s5;
      c += d4 >>> 13; d4 &= 0x1fff;

      let d5 = c + h0 * r5 + h1 * r4 + h2 * r3 + h3 * r2 + h4 * r1;
      c = d5 >>> 13; d5 &= 0x1fff;
      d5 += h5 * r0 + h6 * s9 + h7 * s8 + h8 * s7 + h9 * s6;
      c += d5 >>> 13; d5 &= 0x1fff;

      let d6 = c + h0 * r6 + h1 * r5 + h2 * r4 + h3 * r3 + h4 * r2;
      c = d6 >>> 13; d6 &= 0x1fff;
      d6 += h5 * r1 + h6 * r0 + h7 * s9 + h8 * s8 + h9 * s7;
      c += d6 >>> 13; d6 &= 0x1fff;

      let d7 = c + h0 * r7 + h1 * r6 + h2 * r5 + h3 * r4 + h4 * r3;
      c = d7 >>> 13; d7 &= 0x1fff;
      d7 += h5 * r2 + h6 * r1 + h7 * r0 + h8 * s9 + h9 * s8;
      c += d7 >>> 13; d7 &= 0x1fff;

      let d8 = c + h0 * r8 + h1 * r7 + h2 * r6 + h3 * r5 + h4 * r4;
      c = d8 >>> 13; d8 &= 0x1fff;
      d8 += h5 * r3 + h6 * r2 + h7 * r1 + h8 * r0 + h9 * s9;
      c += d8 >>> 13; d8 &= 0x1fff;

      let d9 = c + h0 * r9 + h1 * r8 + h2 * r7 + h3 * r6 + h4 * r5;
      c = d9 >>> 13; d9 &= 0x1fff;
      d9 += h5 * r4 + h6 * r3 + h7 * r2 + h8 * r1 + h9 * r0;
      c += d9 >>> 13; d9 &= 0x1fff;

      // The carry out of limb 9 is worth c * 2^130 = 5c.
      c = ((c << 2) + c) | 0;
      c = (c + d0) | 0;
      d0 = c & 0x1fff;
      c = c >>> 13;
      d1 += c;

      h0 = d0; h1 = d1; h2 = d2; h3 = d3; h4 = d4;
      h5 = d5; h6 = d6; h7 = d7; h8 = d8; h9 = d9;
    }
    h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4;
    h[5] = h5; h[6] = h6; h[7] = h7; h[8] = h8; h[9] = h9;
  }

  /** @param {Uint8Array} data */
  update(data) {
    if (this.done) throw new Error("chacha20poly1305: Poly1305 already finished");
    let pos = 0;
    const n = data.length;
    if (this.buffered > 0) {
      const take = Math.min(16 - this.buffered, n);
      this.buffer.set(data.subarray(0, take), this.buffered);
      this.buffered += take;
      pos = take;
      if (this.buffered < 16) return;
      this.blocks(this.buffer, 0, 16, 1 << 11);
      this.buffered = 0;
    }
    const whole = pos + ((n - pos) & ~15);
    this.blocks(data, pos, whole, 1 << 11);
    if (whole < n) {
      this.buffer.set(data.subarray(whole), 0);
      this.buffered = n - whole;
    }
  }

  /**
   * Absorb `count` zero bytes (the AEAD's padding to a 16-byte boundary).
   * @param {number} count
   */
  zeros(count) {
    if (count > 0) this.update(new Uint8Array(count));
  }

  /** @returns {Uint8Array} the 16-byte tag */
  finish() {
    if (this.done) throw new Error("chacha20poly1305: Poly1305 already finished");
    this.done = true;
    if (this.buffered > 0) {
      // A final partial block gets a 1 byte after it and no 2^128 bit (2.5.1).
      const last = new Uint8Array(16);
      last.set(this.buffer.subarray(0, this.buffered));
      last[this.buffered] = 1;
      this.blocks(last, 0, 16, 0);
    }
    const h = this.h;
    // Two full carry passes leave h < 2^130 + small, with 13-bit limbs.
    for (let pass = 0; pass < 2; pass++) {
      let c = 0;
      for (let i = 0; i < 10; i++) {
        h[i] += c;
        c = h[i] >>> 13;
        h[i] &= 0x1fff;
      }
      h[0] += 5 * c;
    }
    // g = h + 5 - 2^130; if g >= 0 then h >= p and the result is g, else h.
    const g = new Uint32Array(10);
    let c = 5;
    for (let i = 0; i < 9; i++) {
      const v = h[i] + c;
      g[i] = v & 0x1fff;
      c = v >>> 13;
    }
    const g9 = h[9] + c - (1 << 13);
    g[9] = g9 & 0x1fff;
    const useG = -((g9 >>> 31) ^ 1); // all ones if g9 >= 0, else 0
    for (let i = 0; i < 10; i++) h[i] = (h[i] & ~useG) | (g[i] & useG);
    c = 0;
    for (let i = 0; i < 10; i++) {
      h[i] += c;
      c = h[i] >>> 13;
      h[i] &= 0x1fff;
    }
    // Back to eight 16-bit words, then add s modulo 2^128.
    const w = [
      h[0] | (h[1] << 13),
      (h[1] >>> 3) | (h[2] << 10),
      (h[2] >>> 6) | (h[3] << 7),
      (h[3] >>> 9) | (h[4] << 4),
      (h[4] >>> 12) | (h[5] << 1) | (h[6] << 14),
      (h[6] >>> 2) | (h[7] << 11),
      (h[7] >>> 5) | (h[8] << 8),
      (h[8] >>> 8) | (h[9] << 5),
    ];
    const tag = new Uint8Array(16);
    let f = 0;
    for (let i = 0; i < 8; i++) {
      f = (w[i] & 0xffff) + this.pad[i] + (f >>> 16);
      tag[2 * i] = f & 0xff;
      tag[2 * i + 1] = (f >>> 8) & 0xff;
    }
    h.fill(0);
    this.r.fill(0);
    this.pad.fill(0);
    this.buffer.fill(0);
    return tag;
  }
}

/**
 * The Poly1305 tag of a message under a one-time key (RFC 8439 2.5).
 * @param {Uint8Array} key 32 bytes @param {Uint8Array} message
 */
export function poly1305(key, message) {
  const mac = new Poly1305(key);
  mac.update(message);
  return mac.finish();
}

// --- AEAD --------------------------------------------------------------------------------

/** Raised when a sealed message does not authenticate; carries no detail on purpose. */
export class AuthenticationError extends Error {
  constructor() {
    super("aead_auth_failed");
    this.name = "AuthenticationError";
  }
}

/** ChaCha20-Poly1305 with one key (RFC 8439 2.8). */
export class ChaCha20Poly1305 {
  /** @param {Uint8Array} key 32 bytes (copied) */
  constructor(key) {
    checkLength(key, KEY_SIZE, "key");
    this.key = Uint8Array.from(key);
  }

  /**
   * The Poly1305 tag over aad and ciphertext, with the one-time key of block 0 (2.6, 2.8).
   * @param {Uint8Array} nonce @param {Uint8Array} aad @param {Uint8Array} ciphertext
   */
  tag(nonce, aad, ciphertext) {
    const block0 = chacha20Block(this.key, 0, nonce);
    const mac = new Poly1305(block0.subarray(0, 32));
    block0.fill(0);
    mac.update(aad);
    mac.zeros((16 - (aad.length % 16)) % 16);
    mac.update(ciphertext);
    mac.zeros((16 - (ciphertext.length % 16)) % 16);
    const lengths = new Uint8Array(16);
    store32(lengths, 0, aad.length);
    store32(lengths, 4, Math.floor(aad.length / 0x100000000));
    store32(lengths, 8, ciphertext.length);
    store32(lengths, 12, Math.floor(ciphertext.length / 0x100000000));
    mac.update(lengths);
    return mac.finish();
  }

  /**
   * Encrypt and authenticate: returns ciphertext || tag (plaintext length + 16).
   * @param {Uint8Array} nonce 12 bytes, never reused with this key
   * @param {Uint8Array} plaintext
   * @param {Uint8Array} [aad]
   * @param {Uint8Array} [out] where to write (length plaintext + 16); may not overlap plaintext
   *   except exactly (in place)
   * @returns {Uint8Array}
   */
  seal(nonce, plaintext, aad = new Uint8Array(0), out) {
    checkLength(nonce, NONCE_SIZE, "nonce");
    const n = plaintext.length;
    const dst = out ?? new Uint8Array(n + TAG_SIZE);
    if (dst.length !== n + TAG_SIZE) throw new Error("chacha20poly1305: output length");
    const ciphertext = dst.subarray(0, n);
    xorKeystream(initState(this.key, 1, nonce), plaintext, ciphertext);
    dst.set(this.tag(nonce, aad, ciphertext), n);
    return dst;
  }

  /**
   * Check and decrypt ciphertext || tag. Nothing is decrypted unless the tag matches.
   * @param {Uint8Array} nonce @param {Uint8Array} sealed @param {Uint8Array} [aad]
   * @param {Uint8Array} [out] where to write (length sealed - 16)
   * @returns {Uint8Array} the plaintext
   * @throws {AuthenticationError}
   */
  open(nonce, sealed, aad = new Uint8Array(0), out) {
    checkLength(nonce, NONCE_SIZE, "nonce");
    if (sealed.length < TAG_SIZE) throw new AuthenticationError();
    const n = sealed.length - TAG_SIZE;
    const ciphertext = sealed.subarray(0, n);
    const expected = this.tag(nonce, aad, ciphertext);
    let diff = 0;
    for (let i = 0; i < TAG_SIZE; i++) diff |= expected[i] ^ sealed[n + i];
    if (diff !== 0) throw new AuthenticationError();
    const dst = out ?? new Uint8Array(n);
    if (dst.length !== n) throw new Error("chacha20poly1305: output length");
    xorKeystream(initState(this.key, 1, nonce), ciphertext, dst);
    return dst;
  }
}
