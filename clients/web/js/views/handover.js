/**
 * The hand-over to the evaluation (开标记录移交 · 组建评标委员会): once a section's opening
 * record is signed, the agency creates its evaluation session from a form — the venues (主场
 * and 副场), the draw request (specialties per venue, the tenderer, avoidance, credit) and the
 * deviation threshold. The method is the one the tender published; the bids are never entered:
 * the node takes them from the signed opening record.
 * @module views/handover
 */
import { t } from "../i18n.js";
import { act, CANCELLED, confirmAction, card, h } from "../ui.js";
import { allow, sectionName } from "./common.js";

/** @typedef {{id: string, name: string, region: string, seats: number, main: boolean}} Venue */
/** @typedef {{specialty: string, venue: string, count: number}} Slot */

/** @param {string} id @param {string} label @param {HTMLElement} input */
function labelled(id, label, input) {
  input.id = id;
  return h("label", { for: id }, label, input);
}

/**
 * @param {import("../app.js").ViewContext} ctx
 * @param {string} tender
 * @param {any} s  the folded tender (tender.js)
 * @param {(section: string) => boolean} created  whether the section's session exists
 */
export function handoverCard(ctx, tender, s, created) {
  const sections = (s.config?.sections || []).map((/** @type {any} */ x) => x.id);
  if (!s.recordSigned || !s.recordSigned.length || !sections.length) return null;
  const method = s.config?.method || null;
  /** @type {Venue[]} */
  const venues = [{ id: "main", name: "主场", region: "", seats: 5, main: true }];
  /** @type {Slot[]} */
  const slots = [{ specialty: "", venue: "main", count: 5 }];

  const section = /** @type {HTMLSelectElement} */ (h("select", null,
    sections.map((/** @type {string} */ id) => h("option", { value: id }, sectionName(s, id)))));
  const tendererName = /** @type {HTMLInputElement} */ (h("input", { autocomplete: "organization" }));
  const tendererRegion = /** @type {HTMLInputElement} */ (h("input"));
  const avoid = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "handover-avoid" }));
  const minCredit = /** @type {HTMLInputElement} */ (h("input", { inputmode: "decimal", value: "60" }));
  const deviation = /** @type {HTMLInputElement} */ (h("input", { inputmode: "decimal", placeholder: "0.2" }));
  const venueRows = h("tbody");
  const slotRows = h("tbody");
  const problem = h("p", { class: "field-error", id: "handover-error", role: "alert" });

  /** @param {number} i */
  function venueRow(i) {
    const v = venues[i];
    /** @param {keyof Venue} key @param {string} label @param {Record<string, any>} [attrs] */
    const cell = (key, label, attrs = {}) => {
      const input = /** @type {HTMLInputElement} */ (h("input", { ...attrs, value: String(v[key]), "aria-label": `${label} ${i + 1}` }));
      input.id = `venue-${i}-${key}`;
      input.oninput = () => { /** @type {any} */ (v)[key] = key === "seats" ? Number(input.value) : input.value; renderSlots(); };
      return input;
    };
    const main = /** @type {HTMLInputElement} */ (h("input", { type: "radio", name: "venue-main", id: `venue-${i}-main`, "aria-label": `${t("handover.main")} ${i + 1}` }));
    main.checked = v.main;
    main.onchange = () => venues.forEach((x, j) => (x.main = j === i));
    const drop = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary", id: `venue-${i}-remove` }, t("handover.remove")));
    drop.disabled = venues.length === 1;
    drop.onclick = () => { venues.splice(i, 1); if (!venues.some((x) => x.main)) venues[0].main = true; renderVenues(); };
    return h("tr", null,
      h("td", null, cell("id", t("handover.venue_id"), { pattern: "[a-z0-9\\-]+" })),
      h("td", null, cell("name", t("handover.venue_name"))),
      h("td", null, cell("region", t("handover.region"))),
      h("td", null, cell("seats", t("handover.seats"), { type: "number", min: "1", max: "50" })),
      h("td", null, main), h("td", null, drop));
  }
  /** @param {number} i */
  function slotRow(i) {
    const sl = slots[i];
    const specialty = /** @type {HTMLInputElement} */ (h("input", { id: `slot-${i}-specialty`, value: sl.specialty, "aria-label": `${t("handover.specialty")} ${i + 1}` }));
    specialty.oninput = () => (sl.specialty = specialty.value);
    const venue = /** @type {HTMLSelectElement} */ (h("select", { id: `slot-${i}-venue`, "aria-label": `${t("handover.venue")} ${i + 1}` },
      venues.map((v) => h("option", { value: v.id }, v.name || v.id))));
    venue.value = sl.venue;
    venue.onchange = () => (sl.venue = venue.value);
    const count = /** @type {HTMLInputElement} */ (h("input", { id: `slot-${i}-count`, type: "number", min: "1", max: "50", value: String(sl.count), "aria-label": `${t("handover.count")} ${i + 1}` }));
    count.oninput = () => (sl.count = Number(count.value));
    const drop = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary", id: `slot-${i}-remove` }, t("handover.remove")));
    drop.disabled = slots.length === 1;
    drop.onclick = () => { slots.splice(i, 1); renderSlots(); };
    return h("tr", null, h("td", null, specialty), h("td", null, venue), h("td", null, count), h("td", null, drop));
  }
  function renderVenues() { venueRows.replaceChildren(...venues.map((_, i) => venueRow(i))); renderSlots(); }
  function renderSlots() { slotRows.replaceChildren(...slots.map((_, i) => slotRow(i))); }

  const addVenue = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary", id: "venue-add" }, t("handover.add_venue")));
  addVenue.onclick = () => { venues.push({ id: `site${venues.length + 1}`, name: "", region: "", seats: 2, main: false }); renderVenues(); };
  const addSlot = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "secondary", id: "slot-add" }, t("handover.add_slot")));
  addSlot.onclick = () => { slots.push({ specialty: "", venue: venues[venues.length - 1].id, count: 1 }); renderSlots(); };

  /** The first problem, naming the field, or "". */
  function check() {
    for (const [i, v] of venues.entries()) {
      if (!/^[a-z0-9-]{1,40}$/.test(v.id)) return t("handover.bad_venue_id", { n: i + 1 });
      if (!v.name.trim()) return t("handover.missing", { field: `${t("handover.venue_name")} ${i + 1}` });
      if (!v.region.trim()) return t("handover.missing", { field: `${t("handover.region")} ${i + 1}` });
      if (!(v.seats >= 1)) return t("handover.bad_number", { field: `${t("handover.seats")} ${i + 1}` });
    }
    if (new Set(venues.map((v) => v.id)).size !== venues.length) return t("handover.duplicate_venue");
    for (const [i, sl] of slots.entries()) {
      if (!sl.specialty.trim()) return t("handover.missing", { field: `${t("handover.specialty")} ${i + 1}` });
      if (!(sl.count >= 1)) return t("handover.bad_number", { field: `${t("handover.count")} ${i + 1}` });
    }
    const size = slots.reduce((n, sl) => n + sl.count, 0);
    if (size < 5 || size % 2 === 0) return t("handover.committee_size", { n: size });
    if (!tendererName.value.trim()) return t("handover.missing", { field: t("handover.tenderer") });
    if (!tendererRegion.value.trim()) return t("handover.missing", { field: t("handover.tenderer_region") });
    if (!/^\d+(\.\d+)?$/.test(minCredit.value.trim())) return t("handover.bad_number", { field: t("handover.min_credit") });
    if (deviation.value.trim() && !/^0(\.\d+)?$|^1$/.test(deviation.value.trim())) return t("handover.bad_number", { field: t("handover.deviation") });
    return "";
  }

  const create = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "primary", id: "handover-btn" }, t("handover.create")));
  allow(create, !!method, t("handover.no_method"));
  create.onclick = () => act(create, async () => {
    const why = check();
    problem.textContent = why;
    if (why) throw new Error(why);
    const sec = section.value;
    const body = {
      tender, section: sec, method,
      venues: venues.map((v) => ({ id: v.id, name: v.name.trim(), region: v.region.trim(), seats: v.seats, main: v.main })),
      draw: {
        slots: slots.map((sl) => ({ specialty: sl.specialty.trim(), venue: sl.venue, count: sl.count })),
        tenderer: tendererName.value.trim(), tenderer_region: tendererRegion.value.trim(),
        avoid_tenderer_region: avoid.checked, min_credit: minCredit.value.trim(),
      },
      ...(deviation.value.trim() ? { deviation_threshold: deviation.value.trim() } : {}),
    };
    if (created(sec)) throw new Error(t("handover.exists", { section: sectionName(s, sec) }));
    const ok = await confirmAction({
      title: t("handover.create"), signed: false, okText: t("handover.create"),
      lead: t("handover.confirm_lead"),
      items: [
        [t("col.section"), sectionName(s, sec)],
        [t("handover.venues"), venues.map((v) => `${v.name}（${v.region}，${v.seats}）`).join(t("list_sep"))],
        [t("handover.slots"), slots.map((sl) => `${sl.specialty} × ${sl.count}`).join(t("list_sep"))],
        [t("handover.tenderer"), `${body.draw.tenderer}（${body.draw.tenderer_region}）`],
      ],
      details: body,
    });
    if (!ok) return CANCELLED;
    const stream = `session:${tender}-${sec}`;
    await ctx.conn.command(stream, "session.create", body);
    location.hash = `#/agency?tender=${encodeURIComponent(tender)}&session=${encodeURIComponent(`${tender}-${sec}`)}`;
    return undefined;
  });

  renderVenues();
  return card(t("handover.title"),
    h("p", { class: "hint" }, t("handover.hint")),
    method ? null : h("p", { class: "field-error", id: "handover-no-method" }, t("handover.no_method")),
    labelled("handover-section", t("col.section"), section),
    h("fieldset", null, h("legend", null, t("handover.venues")),
      h("table", { class: "grid", id: "venue-table" },
        h("thead", null, h("tr", null, [t("handover.venue_id"), t("handover.venue_name"), t("handover.region"), t("handover.seats"), t("handover.main"), ""].map((x) => h("th", null, x)))),
        venueRows), addVenue),
    h("fieldset", null, h("legend", null, t("handover.slots")),
      h("table", { class: "grid", id: "slot-table" },
        h("thead", null, h("tr", null, [t("handover.specialty"), t("handover.venue"), t("handover.count"), ""].map((x) => h("th", null, x)))),
        slotRows), addSlot),
    labelled("handover-tenderer", t("handover.tenderer"), tendererName),
    labelled("handover-tenderer-region", t("handover.tenderer_region"), tendererRegion),
    h("label", { for: "handover-avoid", class: "check" }, avoid, t("handover.avoid")),
    labelled("handover-min-credit", t("handover.min_credit"), minCredit),
    labelled("handover-deviation", t("handover.deviation"), deviation),
    problem, create);
}
