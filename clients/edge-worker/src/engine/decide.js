// Deciding at the edge: the rules bundle compiled once, then, per request, decide's own
// walk (shared/earnest/decide/engine.py, `Engine.decide`): per placement the live
// experiences by priority (then id), each checked for consent, identity confidence and
// audience; the first that passes wins; then the global holdout, the experience's holdout
// and the variant split, with decide's reasons and decide's token format (the winner's
// token carries the request's segment values of the experience's recorded segments).
//
// What the edge cannot know it does not guess. decide combines the subject's STORED consent
// (a CMP's webhook) with what the request carries, the most restrictive first, so a stored
// withdrawal denies what the cookie grants and a stored grant can grant what the cookie does
// not say. The edge decides a placement only where the stored record cannot change the
// answer: a candidate that requires no consent purpose, or one the request itself already
// denies (its consent cookie says denied, or GPC for personalization). Where the walk reaches
// a candidate whose consent only the store can settle, or whose audience reads a saved group
// (not shipped) or a pattern outside the portable subset, that placement is left to /decide.
// So is a candidate with a frequency cap or a dismissal that passes every other check: only
// decide reads the unit's memory (docs/decide.md, "Memory").

import { GLOBAL_HOLDOUT_SEED_NAME, SCALE, bucket, cumulativeShares, pick, seedFor } from "./bucketing.js";
import { NotPortable, atTime, compileCondition } from "./conditions.js";
import { segmentValues } from "./segments.js";

export const PERSONALIZED = "personalized";
export const HOLDOUT = "holdout";
export const GLOBAL_HOLDOUT = "global_holdout";
export const NO_CONSENT = "no_consent";
export const IDENTITY_UNCERTAIN = "identity_uncertain";
export const NOT_IN_AUDIENCE = "not_in_audience";
export const NO_LIVE_EXPERIENCE = "no_live_experience";
export const UNKNOWN_PLACEMENT = "unknown_placement";
export const FREQUENCY_CAPPED = "frequency_capped";
export const DISMISSED = "dismissed";
const DAY_MS = 86400000;

const FORMAT = 1; // shared/earnest/decide/bundle.py
const MAX_ID_LENGTH = 256; // shared/earnest/ids.py
const MAX_PLACEMENT_LENGTH = 128; // shared/earnest/decide/request.py
const REMOTE = "remote"; // a candidate's outcome only /decide can give

/** The bundle (shared/earnest/decide/bundle.py) ready to decide with. `savedGroups`: only
 * for tests that hold the edge to decide on everything (the bundle never carries them). */
export function compileBundle(bundle, { savedGroups = null } = {}) {
  if (bundle?.format !== FORMAT) throw new Error(`rules bundle format ${bundle?.format} is not ${FORMAT}`);
  const byPlacement = new Map();
  for (const doc of bundle.experiences) {
    let predicate = null;
    try {
      predicate = compileCondition(doc.audience ?? {}, savedGroups, { strict: true });
    } catch (error) {
      if (!(error instanceof NotPortable)) throw error;
    }
    const exp = {
      id: doc.id,
      priority: doc.priority,
      predicate, // null: only /decide can evaluate this audience
      requires: doc.requires_consent,
      minIdentity: doc.min_identity_confidence,
      holdout: doc.holdout,
      holdoutSeed: seedFor(`${doc.seed}:holdout`),
      variantSeed: seedFor(`${doc.seed}:variant`),
      ...split(doc, doc.slices),
      // A segmented bandit: the request field, and the split of each value with its own
      // slices (any other value: the split above).
      segmentPath: doc.segments?.path ?? null,
      segmentSplits: new Map(Object.entries(doc.segments?.slices ?? {}).map(([value, slices]) => [value, split(doc, slices)])),
      default: doc.default,
      memory: doc.memory ?? null, // {max_exposures, per_days, dismiss_for_days}: decide reads memory
      recordedSegments: doc.recorded_segments ?? null, // the paths its exposures record
    };
    if (!byPlacement.has(doc.placement)) byPlacement.set(doc.placement, []);
    byPlacement.get(doc.placement).push(exp);
  }
  for (const candidates of byPlacement.values()) {
    candidates.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  return {
    rulesVersion: bundle.rules_version,
    globalHoldout: bundle.global_holdout,
    globalSeed: seedFor(GLOBAL_HOLDOUT_SEED_NAME),
    optOut: bundle.consent_regime === "opt_out",
    maxPlacements: bundle.max_placements,
    known: new Set(bundle.placements),
    byPlacement,
  };
}

/** The variant split: one bound per variant (a fixed split), or, for a bandit experience,
 * one per slice of the hash the bundle carries (shared/earnest/decide/slices.py), each
 * naming its variant. Bounds are in [0, 1), as `bucket` is. */
function split(doc, slices) {
  if (!slices) {
    return { variants: doc.variants, bounds: cumulativeShares(doc.variants.map((v) => v.weight)) };
  }
  const byId = new Map(doc.variants.map((v) => [v.id, v]));
  return {
    variants: slices.map(([, , id]) => byId.get(id)),
    bounds: slices.map(([, end]) => end * SCALE),
  };
}

/** Purpose -> true (may rely on it), false (may not) or null (only the stored record can
 * say): the request's own consent, and, when `stored` is given (null: no record), the record
 * too, combined as earnest/consent/purposes.py `effective_consent` does. */
function consentOf(body, gpc, stored, optOut) {
  const carried = body.consent?.purposes ?? {};
  const denied = (p) => carried[p] === "denied" || (p === "personalization" && gpc);
  return (purpose) => {
    if (denied(purpose)) return false;
    if (stored === undefined) return null;
    const values = [stored?.[purpose], carried[purpose]].filter((v) => v === "granted" || v === "denied");
    if (values.includes("denied")) return false;
    return values.length ? true : optOut;
  };
}

/** Whether decide would take this request (shared/earnest/decide/request.py checks what the
 * worker cannot be sure of: the signed identity's fields, the route's placements). One it
 * would refuse is left to it whole, so the page is its default there as at decide. */
function acceptable(engine, body) {
  const { visitor, placements, attributes } = body;
  const id = (v) => typeof v === "string" && v.length > 0 && v.length <= MAX_ID_LENGTH;
  if (!id(visitor.anonymous_id) || (visitor.user_id !== undefined && visitor.user_id !== null && !id(visitor.user_id))) return false;
  const confidence = visitor.identity_confidence;
  if (confidence !== undefined && confidence !== null && !(typeof confidence === "number" && confidence >= 0 && confidence <= 1)) return false;
  if (attributes !== undefined && (attributes === null || typeof attributes !== "object" || Array.isArray(attributes))) return false;
  if (placements.length > engine.maxPlacements || new Set(placements).size !== placements.length) return false;
  return placements.every((p) => engine.known.has(p) || (typeof p === "string" && p.length > 0 && p.length <= MAX_PLACEMENT_LENGTH));
}

function identityConfidence(visitor) {
  const confidence = visitor.identity_confidence;
  return confidence === undefined || confidence === null ? 1 : Number(confidence);
}

/** decide's answer for every placement the edge can settle, and the placements it cannot.
 *
 * `stored`: the subject's stored consent purposes as decide would read them (null: none);
 * leave it undefined at the edge, where it is unknown. `memory`: the unit's memory as decide
 * reads it ({exposures: {experience: {day: n}}, dismissed: {experience: ms}}; null: none);
 * undefined at the edge. `signer`: tokens for the exposures.
 * `now`: the request's time (epoch ms): the tokens' issue time, and what recency in
 * audiences compares with, as decide's clock is for decide.
 * Returns `{decisions, remote}`: a decision per placement decided here ({experience,
 * variant, reason, content, token}), and the placements to ask /decide for. */
export async function decideLocally(engine, body, { gpc = false, stored = undefined, memory = undefined, signer = null, now = Date.now() } = {}) {
  if (!acceptable(engine, body)) return { decisions: {}, remote: [...body.placements] };
  const visitor = body.visitor;
  const unit = visitor.anonymous_id;
  const confidence = identityConfidence(visitor);
  const allows = consentOf(body, gpc || body.consent?.gpc === true, stored, engine.optOut);
  let anonymousView = null;
  let inGlobal = null;
  const decisions = {};
  const segmentsOf = new Map(); // decision -> its segment values, for its token only
  const remote = [];

  atTime(now, () => {
    for (const placement of body.placements) {
      const candidates = engine.byPlacement.get(placement);
      if (!candidates) {
        decisions[placement] = answer(null, null, engine.known.has(placement) ? NO_LIVE_EXPERIENCE : UNKNOWN_PLACEMENT, null);
        continue;
      }
      let winner = null;
      let firstReason = "";
      for (const exp of candidates) {
        const outcome = outcomeOf(exp);
        if (outcome === "") {
          winner = exp;
          break;
        }
        if (outcome === REMOTE) {
          firstReason = REMOTE;
          break;
        }
        if (!firstReason) firstReason = outcome;
      }
      if (firstReason === REMOTE && !winner) {
        remote.push(placement);
        continue;
      }
      if (!winner) {
        decisions[placement] = answer(candidates[0].id, null, firstReason, candidates[0].default);
        continue;
      }
      if (inGlobal === null) inGlobal = bucket(unit, engine.globalSeed) < engine.globalHoldout;
      let decision;
      if (inGlobal) {
        decision = answer(winner.id, null, GLOBAL_HOLDOUT, winner.default);
      } else if (bucket(unit, winner.holdoutSeed) < winner.holdout) {
        decision = answer(winner.id, null, HOLDOUT, winner.default);
      } else {
        const chosen = winner.segmentPath === null ? winner : winner.segmentSplits.get(segmentValues([winner.segmentPath], body)[winner.segmentPath]) ?? winner;
        const variant = chosen.variants[pick(bucket(unit, winner.variantSeed), chosen.bounds)];
        decision = answer(winner.id, variant.id, PERSONALIZED, variant.content ?? null);
      }
      if (signer && winner.recordedSegments) segmentsOf.set(decision, segmentValues(winner.recordedSegments, body));
      decisions[placement] = decision;
    }
  });
  if (signer) {
    const issuedAt = Math.floor(now / 1000);
    await Promise.all(
      Object.values(decisions)
        .filter((d) => d.experience !== null)
        .map(async (d) => {
          d.token = await signer.sign(unit, d.experience, d.variant, d.reason, engine.rulesVersion, issuedAt, segmentsOf.get(d));
        }),
    );
  }
  return { decisions, remote };

  /** Why `exp` cannot serve this request ("" when it can), or REMOTE: decide's checks, in its order. */
  function outcomeOf(exp) {
    const settled = exp.requires.map(allows);
    if (settled.includes(false)) return NO_CONSENT;
    if (settled.includes(null)) return REMOTE;
    if (!exp.predicate) return REMOTE;
    if (confidence < exp.minIdentity) {
      anonymousView ??= { visitor: { anonymous_id: unit }, context: body.context ?? {} };
      if (!exp.predicate(anonymousView)) return IDENTITY_UNCERTAIN;
    } else if (!exp.predicate(body)) {
      return NOT_IN_AUDIENCE;
    }
    if (!exp.memory || memory === null) return "";
    return memory === undefined ? REMOTE : recalled(exp, memory, now);
  }
}

/** What the unit's memory says of `exp` ("" when nothing), as engine.py's `recalled`. */
function recalled(exp, memory, now) {
  const { max_exposures: max, per_days: days, dismiss_for_days: dismissFor } = exp.memory;
  const at = memory.dismissed?.[exp.id];
  if (dismissFor && at !== undefined && now - at < dismissFor * DAY_MS) return DISMISSED;
  if (!max || !days) return "";
  const today = Math.floor(now / DAY_MS);
  let shown = 0;
  for (const [day, n] of Object.entries(memory.exposures?.[exp.id] ?? {})) if (today - days < Number(day) && Number(day) <= today) shown += n;
  return shown >= max ? FREQUENCY_CAPPED : "";
}

function answer(experience, variant, reason, content) {
  return { experience, variant, reason, content, token: null };
}
