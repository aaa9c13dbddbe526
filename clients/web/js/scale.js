/**
 * The figures an expert may enter on a criterion, as `evalroom/domain/method_rules.py`
 * `ScoreScale` and `scoring.Criterion.allowed` define them (the method as `to_dict` writes it):
 * - `scale: {low, high}`: any figure between, inclusive, at most 2 decimals (e.g. 1–2);
 * - `scale: {low, high, step}`: low, low + step, … high (e.g. 0/4/8: "4 per project, at most 8");
 * - `scale: {values: [...]}`: those figures only;
 * - no scale: 0..max_points, except a majority deduction item (扣分项): 0 or max_points.
 * Decimals are compared in hundredths (the session keeps 2 decimals), never as floats.
 * @module scale
 */

const FIGURE = /^\d{1,6}(\.\d{1,2})?$/;
const MAX_LISTED = 200;

/** A decimal string in hundredths, or null. @param {any} text */
function cents(text) {
  const t = String(text ?? "").trim();
  if (!FIGURE.test(t)) return null;
  const [whole, frac = ""] = t.split(".");
  return Number(whole) * 100 + Number((frac + "00").slice(0, 2));
}

/** Hundredths back to the shortest decimal ("1.5", "8"). @param {number} c */
function text(c) {
  const whole = Math.floor(c / 100), frac = c % 100;
  return frac ? `${whole}.${String(frac).padStart(2, "0").replace(/0$/, "")}` : String(whole);
}

/** The allowed entries of a criterion as {low, high, step?} or {values}. @param {any} c */
export function scaleOf(c) {
  if (c.scale?.values) return { values: c.scale.values.map((/** @type {any} */ v) => String(v)) };
  if (c.scale) return { low: String(c.scale.low), high: String(c.scale.high), step: c.scale.step ? String(c.scale.step) : null };
  if (c.kind === "deduction" && c.deduction === "majority") return { values: ["0", String(c.max_points)] };
  return { low: "0", high: String(c.max_points), step: null };
}

/**
 * Every allowed figure when they can be listed (values, steps), else null (a range).
 * @param {any} c @returns {string[]|null}
 */
export function listedValues(c) {
  const sc = scaleOf(c);
  if (sc.values) return [...sc.values].sort((a, b) => (cents(a) ?? 0) - (cents(b) ?? 0)).map((v) => text(cents(v) ?? 0));
  if (!sc.step) return null;
  const low = cents(sc.low), high = cents(sc.high), step = cents(sc.step);
  if (low === null || high === null || !step || (high - low) / step > MAX_LISTED) return null;
  const out = [];
  for (let v = low; v <= high; v += step) out.push(text(v));
  return out;
}

/** Whether a typed figure is allowed on the criterion. @param {string} value @param {any} c */
export function admits(value, c) {
  const v = cents(value);
  if (v === null) return false;
  const sc = scaleOf(c);
  if (sc.values) return sc.values.some((x) => cents(x) === v);
  const low = cents(sc.low) ?? 0, high = cents(sc.high) ?? 0;
  if (v < low || v > high) return false;
  const step = sc.step ? cents(sc.step) : null;
  return !step || (v - low) % step === 0;
}

/** The allowed figures in words for a heading or an error: "1–2", "0/4/8", "0、3、5". @param {any} c */
export function allowedText(c) {
  const sc = scaleOf(c);
  const listed = listedValues(c);
  if (sc.values) return (listed || sc.values).join("、");
  if (listed) return listed.join("/");
  return `${text(cents(sc.low) ?? 0)}–${text(cents(sc.high) ?? 0)}`;
}
