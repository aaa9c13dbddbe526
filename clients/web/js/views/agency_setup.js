/**
 * The agency's tender set-up form (招标项目设置), in the page alone: the tender's rules as
 * `evalroom/domain/tender_config.py` reads them and its scoring method as
 * `ScoringMethod.from_dict` reads it (docs/methods.md), built from labelled inputs rather than
 * JSON; and the tender's opening key, made in the page as `evalroom-agency opening-key` makes
 * it and split k-of-n to the keyholders (shamir.js), of which only the public recipient is
 * sent. Every input has a stable id (`setup-…`, `crit-<i>-…` with i the criterion's index in
 * `method.criteria`), so a refusal naming a field path (`details.field`) is shown beside it.
 * @module views/agency_setup
 */
import { generateIdentity, identitySecret } from "../age.js";
import { t } from "../i18n.js";
import { splitSecret } from "../shamir.js";
import { act, beijing, CANCELLED, card, confirmAction, fill, h } from "../ui.js";
import { envelopeName } from "./common.js";

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const SECTION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;
const CRITERION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DECIMAL = /^\d+(\.\d+)?$/;
const INT = /^\d+$/;
const BJ_OFFSET = 8 * 3600 * 1000; // Beijing time is UTC+8 all year
const PRICE_FIELD = { name: "price", type: "decimal", required: true, label: "投标报价（元）" };
const DURATION_FIELD = { name: "duration_days", type: "int", required: true, label: "工期（日历天）" };

/**
 * Opening keys made in this page, by tender id: the public recipient and the n shares, kept in
 * memory only (never stored) until the agency has handed every share out.
 * @type {Map<string, {recipient: string, shares: string[], k: number, n: number, keyholders: string[]}>}
 */
export const madeKeys = new Map();

/** @typedef {{id: string, name: string, kind: string, max: string, scale: string, low: string, high: string, step: string, values: string}} CriterionInput */

/** A Beijing wall-clock time ("2026-12-15T09:30", as a datetime-local input holds it) as UTC ISO. @param {string} local */
export function beijingToUtc(local) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local);
  if (!m) return "";
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - BJ_OFFSET;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

/** The Beijing wall-clock time of a moment, for a datetime-local input. @param {number} ms */
export function utcToBeijingLocal(ms) {
  return new Date(ms + BJ_OFFSET).toISOString().slice(0, 16);
}

/** The form's inputs at their defaults: one click of 下一步 makes a valid tender (keyholders named). */
export function defaults() {
  const inAWeek = new Date(Date.now() + 7 * 86400_000 + BJ_OFFSET);
  const day = inAWeek.toISOString().slice(0, 10);
  const stamp = day.replaceAll("-", "");
  return {
    tender: `ZB-${stamp}-${String(Math.floor(Math.random() * 9000) + 1000)}`,
    title: "公路养护工程",
    sectionId: "S1",
    sectionName: "第一标段",
    openingAt: `${day}T09:30`,
    windowMinutes: "30",
    envelopes: "single",
    minBids: "3",
    failureRule: "committee",
    fewValid: "continue",
    k: "2",
    n: "3",
    keyholders: ["", "", ""],
    limit: "",
    floorKind: "none",
    floor: "",
    methodKind: "comprehensive",
    /** @type {CriterionInput[]} */
    criteria: [
      { id: "qualification", name: "资格评审", kind: "pass_fail", max: "", scale: "none", low: "", high: "", step: "", values: "" },
      { id: "technical", name: "施工组织设计", kind: "expert", max: "30", scale: "none", low: "", high: "", step: "", values: "" },
      { id: "price", name: "投标报价", kind: "price", max: "70", scale: "none", low: "", high: "", step: "", values: "" },
    ],
    trimCount: "1",
    trimFrom: "5",
    coefficient: "1",
    above: "1",
    below: "0.5",
    recommend: "3",
    recipient: "",
  };
}

/** @typedef {ReturnType<typeof defaults>} SetupInput */

/** @param {string} text */
function list(text) {
  return text.split(/[\s,，、;；]+/).filter(Boolean);
}

/**
 * The `tender.create` body the inputs make, and for each field path of the body (relative to
 * `config`, as refusals name them) the id of the input it came from.
 * @param {SetupInput} m
 */
export function buildConfig(m) {
  /** @type {Record<string, string>} */
  const inputs = {
    title: "setup-title", "sections[0].id": "setup-section-id", "sections[0].name": "setup-section-name",
    opening_at: "setup-opening-at", decryption_window_seconds: "setup-window", envelopes: "setup-envelopes",
    min_bids: "setup-min-bids", failure_rule: "setup-failure-rule", few_valid: "setup-few-valid",
    "threshold.k": "setup-k", "threshold.n": "setup-n", threshold: "setup-k", keyholders: "setup-keyholders",
    opening_recipient: "setup-make-key", "sections[0].control_price": "setup-control-limit",
    "sections[0].control_price.limit": "setup-control-limit", "sections[0].control_price.floor": "setup-floor",
    "sections[0].control_price.floor_ratio": "setup-floor", forms: "setup-envelopes", method: "setup-method-kind",
    "method.kind": "setup-method-kind", "method.criteria": "crit-add", "method.recommend": "setup-recommend",
    "method.price_rule": "setup-coefficient", "method.price_rule.base.trim": "setup-trim-count",
    "method.price_rule.base.trim.count": "setup-trim-count", "method.price_rule.base.trim.from_bids": "setup-trim-from",
    "method.price_rule.base.coefficient": "setup-coefficient", "method.price_rule.above": "setup-above",
    "method.price_rule.below": "setup-below",
  };
  m.keyholders.forEach((_, i) => (inputs[`keyholders[${i}]`] = `setup-keyholder-${i}`));
  const two = m.envelopes !== "single";
  const section = /** @type {Record<string, any>} */ ({ id: m.sectionId.trim(), name: m.sectionName.trim() });
  if (m.limit.trim()) {
    section.control_price = { limit: m.limit.trim() };
    if (m.floorKind !== "none" && m.floor.trim()) section.control_price[m.floorKind] = m.floor.trim();
  }
  const criteria = m.criteria.map((c, i) => {
    for (const [key, suffix] of [["", "id"], ["id", "id"], ["name", "name"], ["kind", "kind"], ["max_points", "max"],
      ["scale", "scale"], ["scale.low", "low"], ["scale.high", "high"], ["scale.step", "step"], ["scale.values", "values"]]) {
      inputs[`method.criteria[${i}]${key ? "." + key : ""}`] = `crit-${i}-${suffix}`;
    }
    list(c.values).forEach((_, j) => (inputs[`method.criteria[${i}].scale.values[${j}]`] = `crit-${i}-values`));
    /** @type {Record<string, any>} */
    const out = { id: c.id.trim(), name: c.name.trim(), kind: c.kind, max_points: c.kind === "pass_fail" ? null : c.max.trim() };
    if (c.kind === "expert" && c.scale === "range") out.scale = { low: c.low.trim(), high: c.high.trim() };
    if (c.kind === "expert" && c.scale === "steps") out.scale = { low: c.low.trim(), high: c.high.trim(), step: c.step.trim() };
    if (c.kind === "expert" && c.scale === "values") out.scale = { values: list(c.values) };
    return out;
  });
  const priced = m.methodKind === "comprehensive" && m.criteria.some((c) => c.kind === "price");
  const method = /** @type {Record<string, any>} */ ({ kind: m.methodKind, criteria });
  if (priced) {
    method.price_rule = {
      base: {
        trim: m.trimCount.trim() ? { count: Number(m.trimCount), from_bids: Number(m.trimFrom) } : null,
        coefficient: m.coefficient.trim(),
      },
      deviation: "percent",
      above: [{ up_to: null, points_per_percent: m.above.trim() }],
      below: [{ up_to: null, points_per_percent: m.below.trim() }],
    };
  }
  method.recommend = Number(m.recommend);
  const config = {
    sections: [section],
    envelopes: two ? ["technical", "commercial"] : ["single"],
    opening_at: beijingToUtc(m.openingAt),
    decryption_window_seconds: Math.round(Number(m.windowMinutes) * 60),
    min_bids: Number(m.minBids),
    few_valid: m.fewValid,
    failure_rule: m.failureRule,
    opening_recipient: m.recipient,
    threshold: { k: Number(m.k), n: Number(m.n) },
    keyholders: m.keyholders.map((x) => x.trim()),
    forms: two ? { technical: [DURATION_FIELD], commercial: [PRICE_FIELD] } : { single: [PRICE_FIELD] },
    method,
  };
  return { tender: m.tender.trim(), body: { title: m.title.trim(), config }, inputs };
}

/**
 * What is wrong with the inputs, each as the field path (relative to `config`; `tender` and
 * `title` for the body's own) and a sentence saying what to do. Mirrors the server's checks, so
 * a form that passes here is one the server accepts (the server still decides).
 * @param {SetupInput} m
 * @returns {{field: string, message: string}[]}
 */
export function validate(m) {
  /** @type {{field: string, message: string}[]} */
  const errors = [];
  /** @param {string} field @param {string} key @param {Record<string, any>} [vars] */
  const bad = (field, key, vars = {}) => errors.push({ field, message: t(`setup.err.${key}`, vars) });
  /** @param {string} field @param {string} value @param {string} label @param {number} [min] */
  const int = (field, value, label, min = 1) => {
    if (!INT.test(value.trim()) || Number(value) < min) bad(field, "int", { label, min });
  };
  /** @param {string} field @param {string} value @param {string} label */
  const positive = (field, value, label) => {
    if (!DECIMAL.test(value.trim())) bad(field, "decimal", { label });
    else if (!(Number(value) > 0)) bad(field, "positive", { label });
    else return Number(value);
    return null;
  };
  if (!ID.test(m.tender.trim())) bad("tender", "tender_id");
  if (!m.title.trim()) bad("title", "required", { label: t("setup.title") });
  if (!SECTION_ID.test(m.sectionId.trim())) bad("sections[0].id", "section_id");
  if (!m.sectionName.trim()) bad("sections[0].name", "required", { label: t("setup.section_name") });
  const at = beijingToUtc(m.openingAt);
  if (!at) bad("opening_at", "required", { label: t("setup.opening_at") });
  else if (new Date(at).getTime() <= Date.now()) bad("opening_at", "opening_past");
  if (!/^\d+(\.\d+)?$/.test(m.windowMinutes.trim()) || !(Number(m.windowMinutes) * 60 >= 1)) {
    bad("decryption_window_seconds", "positive", { label: t("setup.window") });
  }
  int("min_bids", m.minBids, t("setup.min_bids"));
  const [k, n] = [Number(m.k), Number(m.n)];
  if (!INT.test(m.n.trim()) || n < 2 || n > 255) bad("threshold.n", "n_range");
  else if (!INT.test(m.k.trim()) || k < 2 || k > n) bad("threshold.k", "k_range", { n });
  if (m.failureRule === "committee") {
    const seen = new Set();
    m.keyholders.forEach((u, i) => {
      const user = u.trim();
      if (!user) bad(`keyholders[${i}]`, "keyholder_missing", { i: i + 1 });
      else if (seen.has(user)) bad(`keyholders[${i}]`, "keyholder_twice", { user });
      seen.add(user);
    });
  }
  if (m.limit.trim()) {
    const limit = positive("sections[0].control_price.limit", m.limit, t("setup.limit"));
    if (m.floorKind === "floor") {
      const floor = positive("sections[0].control_price.floor", m.floor, t("setup.floor_amount"));
      if (floor !== null && limit !== null && floor >= limit) bad("sections[0].control_price.floor", "floor_below_limit");
    } else if (m.floorKind === "floor_ratio") {
      const r = positive("sections[0].control_price.floor_ratio", m.floor, t("setup.floor_ratio"));
      if (r !== null && r >= 1) bad("sections[0].control_price.floor_ratio", "ratio_range");
    }
  } else if (m.floorKind !== "none" && m.floor.trim()) bad("sections[0].control_price.limit", "floor_needs_limit");
  validateMethod(m, bad, positive, int);
  return errors;
}

/**
 * @param {SetupInput} m @param {(field: string, key: string, vars?: Record<string, any>) => void} bad
 * @param {(field: string, value: string, label: string) => number|null} positive
 * @param {(field: string, value: string, label: string, min?: number) => void} int
 */
function validateMethod(m, bad, positive, int) {
  if (!m.criteria.length) bad("method.criteria", "no_criteria");
  const ids = new Set();
  m.criteria.forEach((c, i) => {
    const at = `method.criteria[${i}]`;
    const row = { i: i + 1 };
    if (!CRITERION_ID.test(c.id.trim())) bad(`${at}.id`, "criterion_id", row);
    else if (ids.has(c.id.trim())) bad(`${at}.id`, "criterion_twice", { id: c.id.trim() });
    ids.add(c.id.trim());
    if (!c.name.trim()) bad(`${at}.name`, "required", { label: t("setup.crit_name_n", row) });
    if (c.kind === "pass_fail") return;
    const max = positive(`${at}.max_points`, c.max, t("setup.crit_max_n", row));
    if (c.kind !== "expert" || c.scale === "none") return;
    if (c.scale === "values") {
      const values = list(c.values);
      if (!values.length || values.some((v) => !DECIMAL.test(v))) bad(`${at}.scale.values`, "values");
      else if (new Set(values.map(Number)).size !== values.length) bad(`${at}.scale.values`, "values_repeat");
      else if (max !== null && Math.max(...values.map(Number)) !== max) bad(`${at}.max_points`, "top_is_max", row);
      return;
    }
    const low = DECIMAL.test(c.low.trim()) ? Number(c.low) : null;
    const high = DECIMAL.test(c.high.trim()) ? Number(c.high) : null;
    if (low === null) bad(`${at}.scale.low`, "decimal", { label: t("setup.crit_low_n", row) });
    if (high === null) bad(`${at}.scale.high`, "decimal", { label: t("setup.crit_high_n", row) });
    if (low === null || high === null) return;
    if (low > high) bad(`${at}.scale.low`, "low_high", row);
    else if (max !== null && high !== max) bad(`${at}.scale.high`, "top_is_max", row);
    else if (c.scale === "steps") {
      const step = positive(`${at}.scale.step`, c.step, t("setup.crit_step_n", row));
      const q = step ? (high - low) / step : 0;
      if (step && Math.abs(q - Math.round(q)) > 1e-9) bad(`${at}.scale.step`, "whole_steps", row);
    }
  });
  const prices = m.criteria.filter((c) => c.kind === "price").length;
  if (m.methodKind === "lowest_evaluated_price") {
    if (m.criteria.some((c) => c.kind !== "pass_fail")) bad("method.kind", "lowest_pass_fail");
  } else if (prices > 1) bad("method.criteria", "one_price");
  else if (prices === 1) {
    const coef = positive("method.price_rule.base.coefficient", m.coefficient, t("setup.coefficient"));
    if (coef !== null && coef > 1) bad("method.price_rule.base.coefficient", "coefficient");
    if (!DECIMAL.test(m.above.trim())) bad("method.price_rule.above", "decimal", { label: t("setup.above") });
    if (!DECIMAL.test(m.below.trim())) bad("method.price_rule.below", "decimal", { label: t("setup.below") });
    if (m.trimCount.trim()) {
      int("method.price_rule.base.trim.count", m.trimCount, t("setup.trim_count"));
      if (!INT.test(m.trimFrom.trim()) || Number(m.trimFrom) < 2 * Number(m.trimCount) + 1) {
        bad("method.price_rule.base.trim.from_bids", "trim_from", { min: 2 * Number(m.trimCount) + 1 });
      }
    }
  }
  int("method.recommend", m.recommend, t("setup.recommend"));
}

/**
 * The tender's opening key made here, as `evalroom-agency opening-key` makes it: a fresh age
 * X25519 identity, its 32 secret bytes split k-of-n, the identity then forgotten. Only the
 * recipient (public) is ever sent.
 * @param {number} k @param {number} n
 */
export async function makeOpeningKey(k, n) {
  const { identity, recipient } = await generateIdentity();
  const secret = identitySecret(identity);
  try {
    return { recipient, shares: await splitSecret(secret, k, n), k, n };
  } finally {
    secret.fill(0);
  }
}

/**
 * The share files of a key made in this page, one download per keyholder (`<tender>-share-<i>.txt`,
 * the text `evalroom-keyholder` and the keyholder page read).
 * @param {string} tender @param {{recipient: string, shares: string[], k: number, n: number}} key
 * @param {string[]} keyholders
 */
export function shareDownloads(tender, key, keyholders) {
  return h("div", { class: "shares", id: "share-downloads" },
    h("p", null, t("setup.recipient"), " ", h("code", { class: "mono", id: "setup-recipient" }, key.recipient)),
    h("p", { class: "hint" }, t("setup.shares_hint", { k: key.k, n: key.n })),
    h("ul", { class: "share-list" }, key.shares.map((share, i) => {
      const url = URL.createObjectURL(new Blob([share + "\n"], { type: "text/plain" }));
      return h("li", null, h("a", { href: url, download: `${tender}-share-${i + 1}.txt`, id: `share-link-${i + 1}`, class: "button secondary" },
        t("setup.share_download", { i: i + 1 })), " ", t("setup.share_for", { user: keyholders[i] || "—" }));
    })));
}

/** A labelled input with its error slot. @param {string} id @param {string} label @param {HTMLElement} input @param {string} [hint] */
function field(id, label, input, hint) {
  input.id = id;
  input.setAttribute("aria-describedby", `${id}-error`);
  return h("label", { class: "field", for: id }, h("span", { class: "field-name" }, label), input,
    hint ? h("small", { class: "hint" }, hint) : null, h("span", { class: "field-error error", id: `${id}-error`, role: "alert" }));
}

/** @param {[string, string][]} options @param {string} value */
function select(options, value) {
  return /** @type {HTMLSelectElement} */ (h("select", null, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label))));
}

/**
 * The set-up form. `onCreated(tender)` runs once the server accepted `tender.create`.
 * @param {import("../app.js").ViewContext} ctx @param {(tender: string) => void} onCreated
 */
export function setupForm(ctx, onCreated) {
  const m = defaults();
  /** @type {{recipient: string, shares: string[], k: number, n: number} | null} */ let key = null;
  const preview = h("pre", { class: "mono", id: "setup-json", "aria-readonly": "true" });
  const keyBox = h("div", { id: "setup-key" });
  const summary = h("p", { class: "hint", id: "setup-summary", role: "status" });
  const form = h("form", { class: "setup", id: "setup-form", novalidate: true });
  /** @type {Record<string, string>} */ let inputs = {};

  /** @param {keyof SetupInput} name @param {string} [type] */
  function text(name, type = "text", attrs = {}) {
    const el = /** @type {HTMLInputElement} */ (h("input", { type, value: /** @type {string} */ (m[name]), ...attrs }));
    el.oninput = () => { /** @type {any} */ (m)[name] = el.value; changed(); };
    return el;
  }
  /** @param {keyof SetupInput} name @param {[string, string][]} options @param {boolean} [rebuild] */
  function choice(name, options, rebuild = false) {
    const el = select(options, /** @type {string} */ (m[name]));
    el.onchange = () => { /** @type {any} */ (m)[name] = el.value; if (rebuild) render(); else changed(); };
    return el;
  }
  /** @param {CriterionInput} c @param {keyof CriterionInput} name @param {string} id */
  function critText(c, name, id, attrs = {}) {
    const el = /** @type {HTMLInputElement} */ (h("input", { value: c[name], ...attrs }));
    el.oninput = () => { c[name] = el.value; changed(); };
    return field(id, t(`setup.crit_${name}`), el);
  }
  /** @param {CriterionInput} c @param {number} i */
  function criterionRow(c, i) {
    const kind = select([["pass_fail", t("setup.kind_pass_fail")], ["expert", t("setup.kind_expert")], ["price", t("setup.kind_price")]], c.kind);
    kind.onchange = () => { c.kind = kind.value; if (c.kind === "pass_fail") c.max = ""; render(); };
    const scale = select([["none", t("setup.scale_none")], ["range", t("setup.scale_range")], ["steps", t("setup.scale_steps")], ["values", t("setup.scale_values")]], c.scale);
    scale.onchange = () => { c.scale = scale.value; render(); };
    const remove = h("button", { type: "button", class: "link", id: `crit-${i}-remove` }, t("setup.crit_remove"));
    remove.onclick = () => { m.criteria.splice(i, 1); render(); };
    return h("fieldset", { class: "criterion", id: `crit-${i}`, "data-index": i },
      h("legend", null, t("setup.crit_n", { i: i + 1 })),
      h("div", { class: "row" },
        critText(c, "id", `crit-${i}-id`), critText(c, "name", `crit-${i}-name`),
        field(`crit-${i}-kind`, t("setup.crit_kind"), kind),
        c.kind === "pass_fail" ? null : critText(c, "max", `crit-${i}-max`, { inputmode: "decimal" }),
        c.kind === "expert" ? field(`crit-${i}-scale`, t("setup.crit_scale"), scale) : null),
      c.kind === "expert" && (c.scale === "range" || c.scale === "steps")
        ? h("div", { class: "row" }, critText(c, "low", `crit-${i}-low`, { inputmode: "decimal" }), critText(c, "high", `crit-${i}-high`, { inputmode: "decimal" }),
          c.scale === "steps" ? critText(c, "step", `crit-${i}-step`, { inputmode: "decimal" }) : null)
        : null,
      c.kind === "expert" && c.scale === "values" ? h("div", { class: "row" }, critText(c, "values", `crit-${i}-values`, { placeholder: "0, 3, 5" })) : null,
      h("div", { class: "actions" }, remove));
  }

  function render() {
    const n = Number(m.n);
    if (Number.isInteger(n) && n >= 1 && n <= 255) {
      while (m.keyholders.length < n) m.keyholders.push("");
      m.keyholders.length = n;
    }
    const nInput = text("n", "number", { min: 2, max: 255 });
    nInput.onchange = () => render();
    const addCrit = h("button", { type: "button", class: "secondary", id: "crit-add" }, t("setup.crit_add"));
    addCrit.onclick = () => { m.criteria.push({ id: `c${m.criteria.length + 1}`, name: "", kind: "expert", max: "10", scale: "none", low: "", high: "", step: "", values: "" }); render(); };
    const makeKey = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary", id: "setup-make-key", "aria-describedby": "setup-make-key-error" }, t("setup.make_key")));
    makeKey.onclick = () => act(makeKey, async () => { await newKey(); }, t("setup.key_made"));
    const floorKind = choice("floorKind", [["none", t("setup.floor_none")], ["floor", t("setup.floor_amount")], ["floor_ratio", t("setup.floor_ratio")]], true);
    const priced = m.methodKind === "comprehensive" && m.criteria.some((c) => c.kind === "price");
    const next = /** @type {HTMLButtonElement} */ (h("button", { type: "submit", class: "primary", id: "setup-next" }, t("setup.next")));
    fill(form,
      h("fieldset", { id: "setup-basic" }, h("legend", null, t("setup.basic")),
        h("div", { class: "row" },
          field("setup-tender", t("setup.tender"), text("tender", "text", { autocomplete: "off" }), t("setup.tender_hint")),
          field("setup-title", t("setup.title"), text("title"))),
        h("div", { class: "row" },
          field("setup-section-id", t("setup.section_id"), text("sectionId")),
          field("setup-section-name", t("setup.section_name"), text("sectionName"))),
        h("div", { class: "row" },
          field("setup-opening-at", t("setup.opening_at"), text("openingAt", "datetime-local", { step: 1 }), t("setup.opening_hint")),
          h("div", { class: "field" }, h("span", { class: "field-name" }, t("setup.deadline")),
            h("output", { id: "setup-deadline", for: "setup-opening-at" }, beijing(beijingToUtc(m.openingAt))),
            h("small", { class: "hint" }, t("setup.deadline_hint"))),
          field("setup-window", t("setup.window"), text("windowMinutes", "number", { min: 1 }))),
        field("setup-envelopes", t("setup.envelopes"), choice("envelopes", [
          ["single", envelopeName("single")],
          ["technical+commercial", `${envelopeName("technical")} + ${envelopeName("commercial")}`]]))),
      h("fieldset", { id: "setup-failure" }, h("legend", null, t("setup.failure")),
        h("div", { class: "row" },
          field("setup-min-bids", t("setup.min_bids"), text("minBids", "number", { min: 1 }), t("setup.min_bids_hint")),
          field("setup-few-valid", t("setup.few_valid"), choice("fewValid", [["continue", t("few.continue")], ["reject_all", t("few.reject_all")]]), t("setup.few_valid_hint")),
          field("setup-failure-rule", t("setup.failure_rule"), choice("failureRule", [["committee", t("setup.rule_committee")], ["reject", t("setup.rule_reject")]])))),
      h("fieldset", { id: "setup-keyholders" }, h("legend", null, t("setup.keyholders")),
        h("div", { class: "row" },
          field("setup-k", t("setup.k"), text("k", "number", { min: 2 })),
          field("setup-n", t("setup.n"), nInput)),
        h("div", { class: "row", role: "group", "aria-describedby": "setup-keyholders-error" }, m.keyholders.map((u, i) => {
          const el = /** @type {HTMLInputElement} */ (h("input", { value: u, autocomplete: "off" }));
          el.oninput = () => { m.keyholders[i] = el.value; changed(); };
          return field(`setup-keyholder-${i}`, t("setup.keyholder_n", { i: i + 1 }), el);
        })),
        h("span", { class: "field-error error", id: "setup-keyholders-error", role: "alert" }),
        h("div", { class: "toolbar" }, makeKey, h("span", { class: "field-error error", id: "setup-make-key-error", role: "alert" })),
        keyBox),
      h("fieldset", { id: "setup-control" }, h("legend", null, t("setup.control")),
        h("div", { class: "row" },
          field("setup-control-limit", t("setup.limit"), text("limit", "text", { inputmode: "decimal", placeholder: "1040000.00" }), t("setup.limit_hint")),
          field("setup-floor-kind", t("setup.floor_kind"), floorKind),
          m.floorKind === "none" ? null : field("setup-floor", t(m.floorKind === "floor" ? "setup.floor_amount" : "setup.floor_ratio"), text("floor", "text", { inputmode: "decimal", placeholder: m.floorKind === "floor" ? "850000.00" : "0.85" })))),
      h("fieldset", { id: "setup-method" }, h("legend", null, t("setup.method")),
        h("div", { class: "row" },
          field("setup-method-kind", t("setup.method_kind"), choice("methodKind", [["comprehensive", t("setup.comprehensive")], ["lowest_evaluated_price", t("setup.lowest_price")]], true)),
          field("setup-recommend", t("setup.recommend"), text("recommend", "number", { min: 1 }))),
        m.criteria.map((c, i) => criterionRow(c, i)),
        h("div", { class: "toolbar" }, addCrit, h("span", { class: "field-error error", id: "crit-add-error", role: "alert" })),
        priced ? h("fieldset", { id: "setup-price-rule" }, h("legend", null, t("setup.price_rule")),
          h("div", { class: "row" },
            field("setup-trim-count", t("setup.trim_count"), text("trimCount", "number", { min: 1 }), t("setup.trim_hint")),
            field("setup-trim-from", t("setup.trim_from"), text("trimFrom", "number", { min: 3 })),
            field("setup-coefficient", t("setup.coefficient"), text("coefficient", "text", { inputmode: "decimal" })),
            field("setup-above", t("setup.above"), text("above", "text", { inputmode: "decimal" })),
            field("setup-below", t("setup.below"), text("below", "text", { inputmode: "decimal" })))) : null),
      h("details", { class: "advanced", id: "setup-json-details" }, h("summary", null, t("setup.view_json")), preview),
      summary,
      h("div", { class: "actions" }, next));
    if (key) fill(keyBox, shareDownloads(m.tender.trim(), key, m.keyholders));
    changed();
  }

  /** Refresh what follows from the inputs: the JSON preview, the deadline, stale key. */
  function changed() {
    const built = buildConfig(m);
    inputs = built.inputs;
    fill(preview, JSON.stringify({ stream: `tender:${built.tender}`, type: "tender.create", body: built.body }, null, 2));
    const deadline = form.querySelector("#setup-deadline");
    if (deadline) deadline.textContent = beijing(beijingToUtc(m.openingAt));
    if (key && (key.k !== Number(m.k) || key.n !== Number(m.n))) {
      key = null;
      m.recipient = "";
      fill(keyBox, h("p", { class: "hint", id: "setup-key-stale" }, t("setup.key_stale")));
    }
  }

  async function newKey() {
    clearErrors();
    const problems = validate(m).filter((e) => e.field.startsWith("threshold"));
    if (problems.length) {
      show(problems);
      throw Object.assign(new Error(problems[0].message), { code: "invalid_config" });
    }
    key = await makeOpeningKey(Number(m.k), Number(m.n));
    m.recipient = key.recipient;
    fill(keyBox, shareDownloads(m.tender.trim(), key, m.keyholders));
    changed();
  }

  function clearErrors() {
    for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    summary.textContent = "";
  }

  /** The input a field path names: itself, else its nearest named parent. @param {string} path */
  function inputFor(path) {
    let p = path.replace(/^config\./, "");
    while (p) {
      if (p === "tender") return "setup-tender";
      if (inputs[p]) return inputs[p];
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      p = cut > 0 ? p.slice(0, cut) : "";
    }
    return "setup-next";
  }

  /** Show each problem beside its input; focus the first. @param {{field: string, message: string}[]} problems */
  function show(problems) {
    let first = null;
    for (const e of problems) {
      const id = inputFor(e.field);
      const input = form.querySelector(`#${CSS.escape(id)}`);
      const slot = form.querySelector(`#${CSS.escape(id)}-error`) || summary;
      if (!slot.textContent) slot.textContent = e.message;
      input?.setAttribute("aria-invalid", "true");
      if (input instanceof HTMLElement) input.dataset.fieldPath = e.field;
      first = first || input;
    }
    summary.textContent = t("setup.fix_n", { n: problems.length });
    if (first instanceof HTMLElement) first.focus();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = /** @type {HTMLButtonElement} */ (form.querySelector("#setup-next"));
    act(next, async () => {
      clearErrors();
      const problems = validate(m);
      if (problems.length) {
        show(problems);
        throw Object.assign(new Error(t("setup.fix_n", { n: problems.length })), { code: "invalid_config" });
      }
      if (!key) await newKey();
      const built = buildConfig(m);
      const c = built.body.config;
      const cp = c.sections[0].control_price;
      if (!(await confirmAction({
        title: t("setup.confirm_title"),
        lead: t("setup.confirm_lead"),
        signed: false,
        okText: t("setup.create"),
        items: [
          [t("setup.tender"), built.tender],
          [t("setup.title"), built.body.title],
          [t("setup.opening_at"), beijing(c.opening_at)],
          [t("setup.envelopes"), c.envelopes.map(envelopeName).join(" + ")],
          [t("setup.keyholders"), t("setup.threshold_value", { k: c.threshold.k, n: c.threshold.n, users: c.keyholders.join("、") || "—" })],
          [t("setup.limit"), cp ? cp.limit : t("setup.none")],
          [t("setup.method"), c.method.criteria.map((/** @type {any} */ x) => `${x.name}${x.max_points ? " " + x.max_points : ""}`).join("；")],
          [t("setup.recipient"), c.opening_recipient],
        ],
        details: { stream: `tender:${built.tender}`, type: "tender.create", body: built.body },
      }))) return CANCELLED;
      try {
        await ctx.conn.command(`tender:${built.tender}`, "tender.create", built.body);
      } catch (err) {
        const ex = /** @type {any} */ (err);
        if (ex.details?.field) show([{ field: ex.details.field, message: t("setup.server_refused", { message: ex.message, detail: ex.detail || "" }) }]);
        else summary.textContent = t("error", { message: ex.message, code: ex.code });
        throw err;
      }
      if (key) madeKeys.set(built.tender, { ...key, keyholders: c.keyholders });
      onCreated(built.tender);
    }, t("setup.created"));
  });
  render();
  return card(t("setup.heading"), h("p", { class: "hint" }, t("setup.lead")), form);
}
