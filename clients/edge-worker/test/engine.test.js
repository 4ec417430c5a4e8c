// The edge's decision engine on its own: the shared conformance cases, the regex subset it
// runs as RE2 does, and bucketing as Python's mmh3. (Its agreement with decide over 100,000
// generated requests: tests/e2e/test_edge_agreement.py.)

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { bucket, murmur3, seedFor } from "../src/engine/bucketing.js";
import { NotPortable, atTime, compileCondition, matches, portableRegex } from "../src/engine/conditions.js";
import { compileBundle, decideLocally } from "../src/engine/decide.js";
import { segmentValues } from "../src/engine/segments.js";

const CASES = JSON.parse(readFileSync(new URL("../../../../shared/conformance/conditions.json", import.meta.url), "utf8")).evalCondition;

describe("audience conditions", () => {
  test("all 248 GrowthBook evalCondition cases, as earnest.audience.matches answers them", () => {
    assert.equal(CASES.length, 248);
    const wrong = CASES.filter(([, condition, attributes, expected, groups]) => matches(condition, attributes, groups ?? null) !== expected);
    assert.deepEqual(wrong.map((c) => c[0]), []);
  });

  test("as the edge compiles them: the same answers, and saved groups left to decide", () => {
    const left = [];
    for (const [name, condition, attributes, expected] of CASES) {
      try {
        assert.equal(compileCondition(condition, null, { strict: true })(attributes), expected, name);
      } catch (error) {
        if (!(error instanceof NotPortable)) throw error;
        left.push(name);
      }
    }
    assert.ok(left.every((name) => /Group|regex invalid/.test(name)), left.join(", "));
    assert.equal(left.length, 10);
  });
});

// Recency's own cases, which Python runs too (tests/unit/conditions/test_recency.py), at the
// file's request time, given to the engine: no wall clock.
const RECENCY = JSON.parse(readFileSync(new URL("../../../tests/data/recency_conditions.json", import.meta.url), "utf8"));

describe("recency in audiences", () => {
  test("every shared case, as Python answers it", () => {
    assert.ok(RECENCY.cases.length >= 50);
    const wrong = RECENCY.cases.filter(([, condition, attributes, expected]) => atTime(RECENCY.now_ms, () => matches(condition, attributes)) !== expected);
    assert.deepEqual(wrong.map((c) => c[0]), []);
  });

  test("the request's time is the one given: the clock moves, the answer too", () => {
    const recent = compileCondition({ "attributes.last_purchase_at": { $withinDays: 30 } }, null, { strict: true });
    const bought = { attributes: { last_purchase_at: "2025-12-22T00:00:00Z" } };
    assert.equal(atTime(RECENCY.now_ms, () => recent(bought)), true);
    assert.equal(atTime(RECENCY.now_ms + 21 * 86400000, () => recent(bought)), false);
  });
});

// Segment values' own cases, which Python runs too (tests/unit/decide/test_segments.py).
const SEGMENTS = JSON.parse(readFileSync(new URL("../../../tests/data/segment_values.json", import.meta.url), "utf8"));

describe("segment values", () => {
  test("every shared case, as Python reads it", () => {
    assert.ok(SEGMENTS.cases.length >= 25);
    const wrong = SEGMENTS.cases.filter(([, request, expected]) => {
      const got = segmentValues(Object.keys(expected), request);
      return JSON.stringify(got) !== JSON.stringify(expected);
    });
    assert.deepEqual(wrong.map((c) => c[0]), []);
  });
});

describe("patterns at the edge", () => {
  test("RE2's `.` and `\\s`, not JavaScript's", () => {
    const dot = new RegExp(portableRegex("^a.b$"), "u");
    assert.equal(dot.test("a\rb"), true); // RE2's dot takes a carriage return
    assert.equal(dot.test("a\nb"), false);
    const space = new RegExp(portableRegex("a\\sb"), "u");
    assert.equal(space.test("a\u00a0b"), false); // RE2's \s is ASCII whitespace only
    assert.equal(space.test("a\tb"), true);
  });

  test("what could backtrack, or reads differently in the two engines, is left to decide", () => {
    for (const pattern of ["^(a+)+$", "(ab)*", "a*b*", "(?i)x", "\\pL", "(?P<n>x)", "[[:alpha:]]", "\\1", "\\Ax"]) {
      assert.equal(portableRegex(pattern), null, pattern);
    }
    assert.equal(portableRegex("\\w", true), null, "\\w folds ſ and K under JavaScript's iu");
    assert.equal(portableRegex("[?&]utm_medium=cpc"), "[?&]utm_medium=cpc");
    assert.throws(() => compileCondition({ u: { $regex: "^(a+)+$" } }, null, { strict: true }), NotPortable);
  });
});

describe("bucketing", () => {
  test("MurmurHash3 x86 32 over UTF-8, unsigned, as Python's mmh3.hash(text, seed, signed=False)", () => {
    assert.equal(murmur3("", 0), 0);
    assert.equal(murmur3("abcd", 0), 1139631978);
    assert.equal(murmur3("héllo wörld ✓ 𝄞", 12345), 696179804);
    assert.equal(seedFor("earnest:global-holdout"), 2972050341);
    assert.ok(bucket("a-1", 7) >= 0 && bucket("a-1", 7) < 1);
  });
});

describe("local decisions", () => {
  const bundle = {
    format: 1,
    rules_version: "r1",
    global_holdout: 0,
    consent_regime: "opt_in",
    max_placements: 20,
    placements: ["hero", "banner"],
    experiences: [
      { id: "ctx", placement: "hero", priority: 0, audience: { "context.device": "mobile" }, requires_consent: [], min_identity_confidence: 0, default: { h: "d" }, holdout: 0.01, seed: "ctx", variants: [{ id: "v", weight: 1, content: { h: "v" } }] },
      { id: "gated", placement: "banner", priority: 0, audience: {}, requires_consent: ["personalization"], min_identity_confidence: 0, default: { b: "d" }, holdout: 0.01, seed: "gated", variants: [{ id: "v", weight: 1, content: { b: "v" } }] },
    ],
  };
  const engine = compileBundle(bundle);
  const visitor = { anonymous_id: "a-00000001" };

  test("a consent-gated placement the request grants is left to decide: the store may hold a withdrawal", async () => {
    const body = { visitor, placements: ["hero", "banner"], context: { device: "mobile" }, consent: { purposes: { personalization: "granted" } } };
    const { decisions, remote } = await decideLocally(engine, body);
    assert.deepEqual(remote, ["banner"]);
    assert.equal(decisions.hero.experience, "ctx");
  });

  test("one the request itself denies is settled here: no_consent whatever the store says", async () => {
    for (const consent of [{ gpc: true }, { purposes: { personalization: "denied" } }]) {
      const { decisions, remote } = await decideLocally(engine, { visitor, placements: ["banner"], context: {}, consent });
      assert.deepEqual(remote, []);
      assert.equal(decisions.banner.reason, "no_consent");
    }
  });

  test("a capped or dismissable candidate that could win goes to decide, which reads memory", async () => {
    const capped = { ...bundle.experiences[0], id: "capped", memory: { max_exposures: 2, per_days: 7, dismiss_for_days: 0 } };
    const withMemory = compileBundle({ ...bundle, experiences: [capped] });
    const mobile = { visitor, placements: ["hero"], context: { device: "mobile" } };
    assert.deepEqual((await decideLocally(withMemory, mobile)).remote, ["hero"]);
    // Outside the audience memory changes nothing: settled here.
    const desktop = await decideLocally(withMemory, { ...mobile, context: { device: "desktop" } });
    assert.deepEqual([desktop.remote, desktop.decisions.hero.reason], [[], "not_in_audience"]);
    // Told the memory (as decide reads it), the engine applies the cap at the request's time.
    const now = 20454 * 86400000;
    const memory = { exposures: { capped: { 20454: 1, 20449: 1 } }, dismissed: {} };
    const held = await decideLocally(withMemory, mobile, { memory, now });
    assert.equal(held.decisions.hero.reason, "frequency_capped");
    const later = await decideLocally(withMemory, mobile, { memory, now: now + 3 * 86400000 });
    assert.notEqual(later.decisions.hero.reason, "frequency_capped");
  });

  test("a request decide would refuse is left to it whole: the default page there, as here", async () => {
    for (const who of [{ ...visitor, identity_confidence: 1.5 }, { ...visitor, user_id: "u".repeat(257) }]) {
      const { decisions, remote } = await decideLocally(engine, { visitor: who, placements: ["hero"], context: { device: "mobile" } });
      assert.deepEqual([decisions, remote], [{}, ["hero"]]);
    }
  });
});
