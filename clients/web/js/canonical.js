/**
 * Canonical JSON (RFC 8785, JCS) for the values the platform signs: objects (keys sorted by
 * UTF-16 code units), arrays, strings, safe integers, booleans and null. Non-ASCII text is
 * emitted as-is; the caller encodes the string as UTF-8.
 * @module canonical
 */

/** @param {string} s */
function quote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/**
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return quote(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError("only safe integers can be signed");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (typeof value === "object") {
    const obj = /** @type {Record<string, unknown>} */ (value);
    // JS sorts strings by UTF-16 code units, as RFC 8785 requires.
    const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
    return "{" + keys.map((k) => quote(k) + ":" + canonicalJson(obj[k])).join(",") + "}";
  }
  throw new TypeError(`cannot sign a ${typeof value}`);
}

/** @param {unknown} value @returns {Uint8Array} */
export function canonicalBytes(value) {
  return new TextEncoder().encode(canonicalJson(value));
}
