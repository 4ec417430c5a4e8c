// Generates a fixed-seed corpus of TC and GPP strings with the IAB Tech Lab's own encoders,
// decodes each with the IAB's own decoders, and prints both as JSON for
// tests/unit/consent/test_iab_crosscheck.py to compare with Earnest's decoders.
//   node tests/iab/crosscheck.mjs [seed] [count]
import { GppModel } from "@iabgpp/cmpapi";
import { GVL, PurposeRestriction, Segment, TCModel, TCString } from "@iabtechlabtcf/core";

const seed = Number(process.argv[2] ?? 20261201);
const count = Number(process.argv[3] ?? 400);

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(seed);
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (items) => items[int(0, items.length - 1)];
const subset = (lo, hi, p) => {
  const out = [];
  for (let i = lo; i <= hi; i++) if (random() < p) out.push(i);
  return out;
};

// ------------------------------------------------------------------ TCF v2.2 (tcf core)
const MAX_VENDOR = 300;
const vendors = {};
for (let id = 1; id <= MAX_VENDOR; id++) {
  vendors[id] = {
    id, name: `vendor ${id}`, purposes: [1, 2, 3], legIntPurposes: [7, 8], flexiblePurposes: [2, 7],
    specialPurposes: [], features: [], specialFeatures: [], policyUrl: "https://vendor.example",
    deviceStorageDisclosureUrl: "https://vendor.example", usesCookies: false,
    cookieRefresh: false, usesNonCookieAccess: false,
  };
}
const purposes = {};
for (let id = 1; id <= 11; id++) purposes[id] = { id, name: `purpose ${id}`, description: "" };
const gvl = new GVL({
  gvlSpecificationVersion: 3, vendorListVersion: 48, tcfPolicyVersion: 5,
  lastUpdated: "2024-01-01T00:00:00Z", purposes, specialPurposes: {}, features: {},
  specialFeatures: { 1: { id: 1, name: "a", description: "" }, 2: { id: 2, name: "b", description: "" } },
  vendors, stacks: {}, dataCategories: {},
});
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tcStrings = [];
for (let n = 0; n < count; n++) {
  const tc = new TCModel(gvl);
  tc.cmpId = int(2, 4095);
  tc.cmpVersion = int(0, 4095);
  tc.consentScreen = int(0, 63);
  tc.consentLanguage = pick(["EN", "DE", "FR", "IT", "ES", "NL"]);
  tc.publisherCountryCode = pick(LETTERS) + pick(LETTERS);
  tc.isServiceSpecific = random() < 0.5;
  tc.purposeOneTreatment = random() < 0.2;
  tc.useNonStandardTexts = random() < 0.2;
  tc.specialFeatureOptins.set(subset(1, 2, 0.5));
  tc.purposeConsents.set(subset(1, 11, pick([0.2, 0.6, 0.95])));
  tc.purposeLegitimateInterests.set(subset(2, 11, 0.4));
  const dense = random() < 0.5; // a bitfield or ranges: the encoder picks the shorter
  const top = int(1, MAX_VENDOR);
  tc.vendorConsents.set(dense ? subset(1, top, 0.5) : subset(1, top, 0.03));
  tc.vendorLegitimateInterests.set(subset(1, int(1, MAX_VENDOR), 0.1));
  for (let r = int(0, 3); r > 0; r--) {
    const restriction = new PurposeRestriction(pick([2, 7]), int(0, 2));
    for (const v of subset(1, int(1, MAX_VENDOR), 0.05)) tc.publisherRestrictions.add(v, restriction);
  }
  const segments = [Segment.CORE];
  if (random() < 0.5) {
    tc.publisherConsents.set(subset(1, 11, 0.5));
    tc.publisherLegitimateInterests.set(subset(2, 11, 0.3));
    tc.numCustomPurposes = int(0, 5);
    tc.publisherCustomConsents.set(subset(1, tc.numCustomPurposes, 0.5));
    tc.publisherCustomLegitimateInterests.set(subset(1, tc.numCustomPurposes, 0.5));
    segments.push(Segment.PUBLISHER_TC);
  }
  if (!tc.isServiceSpecific && random() < 0.5) {
    tc.vendorsDisclosed.set(subset(1, int(1, MAX_VENDOR), 0.2));
    segments.push(Segment.VENDORS_DISCLOSED);
  }
  const text = TCString.encode(tc, { segments });
  const d = TCString.decode(text);
  const ids = (vector) => [...vector.values()].sort((a, b) => a - b);
  const restrictions = [];
  for (const r of d.publisherRestrictions.getRestrictions()) {
    restrictions.push([r.purposeId, r.restrictionType, d.publisherRestrictions.getVendors(r).sort((a, b) => a - b)]);
  }
  restrictions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  tcStrings.push({
    string: text,
    fields: {
      version: d.version, created: Math.round(d.created.getTime() / 100),
      last_updated: Math.round(d.lastUpdated.getTime() / 100), cmp_id: d.cmpId,
      cmp_version: d.cmpVersion, consent_screen: d.consentScreen,
      consent_language: d.consentLanguage, vendor_list_version: d.vendorListVersion,
      policy_version: d.policyVersion, is_service_specific: d.isServiceSpecific,
      use_non_standard_texts: d.useNonStandardTexts,
      special_feature_opt_ins: ids(d.specialFeatureOptins),
      purposes_consent: ids(d.purposeConsents),
      purposes_li_transparency: ids(d.purposeLegitimateInterests),
      purpose_one_treatment: d.purposeOneTreatment, publisher_cc: d.publisherCountryCode,
      vendor_consents: ids(d.vendorConsents), vendor_li: ids(d.vendorLegitimateInterests),
      publisher_restrictions: restrictions,
      disclosed_vendors: segments.includes(Segment.VENDORS_DISCLOSED) ? ids(d.vendorsDisclosed) : null,
      publisher_tc: segments.includes(Segment.PUBLISHER_TC)
        ? [ids(d.publisherConsents), ids(d.publisherLegitimateInterests),
           ids(d.publisherCustomConsents), ids(d.publisherCustomLegitimateInterests)]
        : null,
    },
  });
}

// ------------------------------------------------------------------ GPP (cmpapi)
const US = ["usnat", "usca", "usva", "usco", "usut", "usct", "usfl", "usmt", "usor", "ustx",
  "usde", "usia", "usne", "usnh", "usnj", "ustn", "usmn", "usmd", "usin", "usky", "usri"];
const READ = ["SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut", "Gpc"];

function randomValue(name, current) {
  if (name === "Version" || name === "MspaVersion" || name.endsWith("SegmentType")) return current;
  if (name.endsWith("Included")) return current;
  if (name === "MspaCoveredTransaction") return int(1, 2);
  if (typeof current === "boolean") return random() < 0.4;
  if (Array.isArray(current)) return current.map(() => int(0, 2));
  return int(0, 2);
}

function fill(model, section) {
  const blank = new GppModel();
  blank.setFieldValue(section, "SaleOptOut", 0); // every US section has it: creates the section
  for (const [name, current] of Object.entries(blank.getSection(section))) {
    try {
      model.setFieldValue(section, name, randomValue(name, current));
    } catch {
      // a field the section derives itself
    }
  }
}

function read(text) {
  try {
    const model = new GppModel(text);
    const sections = {};
    for (const id of model.getHeader().SectionIds) {
      const name = [...model.sections.keys()].find((key) => model.sections.get(key).getId() === id);
      const section = model.getSection(name); // decodes every field: throws when malformed
      const picked = {};
      for (const key of READ) if (key in section) picked[key] = section[key];
      if (name === "tcfeuv2") {
        picked.PurposeConsents = section.PurposeConsents;
        picked.PurposeLegitimateInterests = section.PurposeLegitimateInterests;
      }
      if (name === "uspv1") picked.OptOutSale = section.OptOutSale;
      sections[name] = picked;
    }
    return { ok: true, sections };
  } catch (error) {
    return { ok: false, error: String(error.message ?? error).slice(0, 200) };
  }
}

const gppStrings = [];
for (let n = 0; n < count; n++) {
  const model = new GppModel();
  const chosen = new Set();
  for (let k = int(1, 3); k > 0; k--) chosen.add(pick([...US, ...US, "uspv1", "tcfeuv2"]));
  for (const section of chosen) {
    if (section === "uspv1") {
      model.setFieldValue("uspv1", "Notice", pick(["Y", "N", "-"]));
      model.setFieldValue("uspv1", "OptOutSale", pick(["Y", "N", "-"]));
      model.setFieldValue("uspv1", "LspaCovered", pick(["Y", "N", "-"]));
    } else if (section === "tcfeuv2") {
      model.setFieldValue("tcfeuv2", "CmpId", int(2, 4095));
      model.setFieldValue("tcfeuv2", "PurposeConsents", Array.from({ length: 24 }, (_, i) => i < 11 && random() < 0.7));
      model.setFieldValue("tcfeuv2", "PurposeLegitimateInterests", Array.from({ length: 24 }, (_, i) => i > 0 && i < 11 && random() < 0.3));
      model.setFieldValue("tcfeuv2", "VendorConsents", subset(1, 100, 0.2));
    } else {
      fill(model, section);
      if (random() < 0.5 && "Gpc" in (model.getSection(section) ?? {})) {
        model.setFieldValue(section, "GpcSegmentIncluded", true);
        model.setFieldValue(section, "Gpc", random() < 0.5);
      }
    }
  }
  const text = model.encode();
  gppStrings.push({ string: text, ...read(text) });
}

// Malformed: each a small corruption of a well-formed string; the IAB decoder says which fail.
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const mutations = [
  (s) => s.slice(0, int(1, s.length - 1)),
  (s) => { const i = int(0, s.length - 1); return s.slice(0, i) + pick([...ALPHABET, "=", "!", ".", "~", "+", "/"]) + s.slice(i + 1); },
  (s) => s + pick(["~", "~1YNN", "~BAAAAAA", "=", ".", "~~"]),
  (s) => s.split("~").slice(0, -1).join("~"),
  (s) => { const parts = s.split("~"); const i = int(1, parts.length - 1); parts[i] = parts[i].slice(0, int(0, parts[i].length)); return parts.join("~"); },
  (s) => "DBA" + pick(ALPHABET) + s.slice(4),
];
const malformed = [];
for (let n = 0; n < count * 2; n++) {
  const text = pick(mutations)(pick(gppStrings).string);
  malformed.push({ string: text, ...read(text) });
}

process.stdout.write(JSON.stringify({ seed, tcf: tcStrings, gpp: gppStrings, malformed }));
