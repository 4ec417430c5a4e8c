// The core's pieces on their own: consent read from the CMP's TC string, checked against
// Earnest's Python decoder (the reference), routes, the signed identity cookie, authentication.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createHash, createHmac } from "node:crypto";
import { authorized, consentFrom, decideBody, identityFrom, pageDecisions, placementsFor, readConfig, relayBeacon, signedDecisions, tcfPurposes } from "../src/core.js";
import { verifiedDecisions } from "../../origin/earnest-origin.mjs";
import { join } from "node:path";
import { WORKER_ROOT, python } from "./harness.js";

// Published TC strings (IAB's examples, Ketch's, Usercentrics') from tests/unit/consent/test_tcf.py.
const STRINGS = [
  "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA",
  "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=",
  "CPhBZtcPhBZtcACABAENCACgAIAAAAAAAAAAH2QAYH0AfYB9kAGB9YH2AAAA.YAAAAAAAAAAA",
  "CQP6E8AQP6E8AAFADAENBlFkAHJAAEBAAIYgF5wBAABAAGAXeAvMFfYAYC7wF5gV9ADHQAYAAgr6FAAwABBX0kABgACCvoAA.YAAAAAAAAAAA",
];

test("the TC string's purposes match Earnest's own decoder and mapping", async () => {
  const reference = JSON.parse(
    await python(
      `import json, sys
from earnest.consent.tcf import decode
from earnest.consent.cmp.mappings import tcf_purposes
print(json.dumps([tcf_purposes(decode(s)) for s in ${JSON.stringify(STRINGS)}]))`,
      {},
    ),
  );
  assert.deepEqual(STRINGS.map(tcfPurposes), reference);
});

test("Sec-GPC and the euconsent-v2 cookie become decide's consent; junk says nothing", () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y" });
  const headers = new Headers({ "sec-gpc": "1", cookie: `a=b; euconsent-v2=${STRINGS[3]}` });
  assert.deepEqual(consentFrom(headers, config), { gpc: true, purposes: tcfPurposes(STRINGS[3]) });
  assert.deepEqual(consentFrom(new Headers({ cookie: "euconsent-v2=%%%" }), config), {});
});

test("routes: exact paths, then prefixes ending in *, first match wins", () => {
  const routes = Object.entries({ "/": ["home-hero"], "/p/*": ["pdp-recs"], "/p/special": ["never"] });
  assert.deepEqual(placementsFor("/", routes), ["home-hero"]);
  assert.deepEqual(placementsFor("/p/123", routes), ["pdp-recs"]);
  assert.deepEqual(placementsFor("/p/special", routes), ["pdp-recs"]);
  assert.deepEqual(placementsFor("/about", routes), []);
});

test("the shared-secret mode sends the header the bindings name", async () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", EARNEST_AUTH: "header", EARNEST_AUTH_HEADER: "x-origin-verify", EARNEST_AUTH_SECRET: "s3cret" });
  const request = await authorized(config, "https://edge.example/decide", { method: "POST", headers: {}, body: "{}" });
  assert.equal(request.headers.get("x-origin-verify"), "s3cret");
});

const SIGV4 = {
  EARNEST_DECIDE_URL: "x",
  EARNEST_EVENTS_URL: "https://events.example/events",
  EARNEST_AUTH: "sigv4",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

test("the SigV4 mode signs for the Lambda service in the configured region", async () => {
  const config = readConfig({ ...SIGV4, AWS_REGION: "eu-west-1" });
  const request = await authorized(config, "https://abc.lambda-url.eu-west-1.on.aws/decide", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.match(request.headers.get("authorization"), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  assert.match(request.headers.get("x-amz-date"), /^\d{8}T\d{6}Z$/);
  // the body's hash is signed, as CloudFront OAC requires for a POST to a Function URL
  assert.equal(request.headers.get("x-amz-content-sha256"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
});

test("a page's beacon is relayed to /events signed with SigV4 and its body's hash, which sendBeacon cannot send", async () => {
  const config = readConfig({ ...SIGV4 });
  const sent = [];
  const capture = async (request) => {
    sent.push({ request, body: await request.text() });
    return new Response('{"stored":1}', { status: 202 });
  };
  const body = '{"events":[]}';
  const answer = await relayBeacon(config, body, new Headers({ "sec-gpc": "1", "idempotency-key": "k-1", cookie: "earnest_aid=x" }), capture);
  assert.deepEqual(answer, { status: 202, body: '{"stored":1}' });
  const [{ request, body: relayed }] = sent;
  assert.equal(relayed, body, "the body as the page sent it");
  assert.equal(request.headers.get("x-amz-content-sha256"), createHash("sha256").update(body).digest("hex"));
  assert.match(request.headers.get("authorization"), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/lambda\/aws4_request/);
  assert.deepEqual([request.headers.get("sec-gpc"), request.headers.get("idempotency-key"), request.headers.get("cookie")], ["1", "k-1", null]);
  assert.equal((await relayBeacon(config, "x".repeat(1024 * 1024 + 1), new Headers(), capture)).status, 413);
  assert.equal((await relayBeacon(config, body, new Headers(), () => Promise.reject(new Error("down")))).status, 503);
});

/** The identity cookie as the site's login signs it (clients/edge-worker/README.md). */
function signedIdentity(secret, identity) {
  const payload = Buffer.from(JSON.stringify(identity)).toString("base64url");
  return `v1.${payload}.${createHmac("sha256", secret).update(`v1.${payload}`).digest("base64url")}`;
}

const OLD = "the-old-identity-secret-of-the-site-login";
const NEW = "the-new-identity-secret-of-the-site-login";
const NOW = Date.UTC(2026, 0, 15);
const HOUR = 3600;
const exp = (seconds) => Math.floor(NOW / 1000) + seconds;

test("a signed identity cookie becomes decide's user, confidence and attributes; the unit stays the cookie id", async () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", IDENTITY_SECRET: `${NEW}, ${OLD}` });
  const who = { user_id: "u-19", identity_confidence: 0.62, attributes: { ltv: 900 } };
  for (const secret of [OLD, NEW]) {
    const cookie = signedIdentity(secret, { ...who, anonymous_id: "a-7f3-0001", exp: exp(HOUR) });
    const identity = await identityFrom(new Headers({ cookie: `earnest_aid=a-7f3-0001; earnest_identity=${cookie}` }), config, "a-7f3-0001", NOW);
    assert.deepEqual(identity, who);
    assert.deepEqual(decideBody("a-7f3-0001", ["home-hero"], {}, {}, identity), {
      visitor: { anonymous_id: "a-7f3-0001", user_id: "u-19", identity_confidence: 0.62 },
      placements: ["home-hero"],
      context: {},
      attributes: { ltv: 900 },
    });
  }
});

test("a forged, edited, expired, unbounded, copied or unconfigured identity cookie leaves the visitor anonymous", async () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", IDENTITY_SECRET: NEW });
  const read = (value, { cfg = config, aid = "a-visitor-1", now = NOW } = {}) => identityFrom(new Headers({ cookie: `earnest_identity=${value}` }), cfg, aid, now);
  const claims = { user_id: "u-1007", anonymous_id: "a-visitor-1", exp: exp(HOUR) };
  const good = signedIdentity(NEW, claims);
  assert.deepEqual(await read(good), { user_id: "u-1007" });
  assert.equal(await read(signedIdentity("another-secret-of-at-least-32-bytes!", claims)), null, "forged");
  const [, , sig] = good.split(".");
  const edited = Buffer.from(JSON.stringify({ ...claims, user_id: "u-1" })).toString("base64url");
  assert.equal(await read(`v1.${edited}.${sig}`), null, "payload edited");
  assert.equal(await read(good, { now: NOW + 2 * HOUR * 1000 }), null, "expired");
  assert.equal(await read(signedIdentity(NEW, { ...claims, exp: undefined })), null, "no exp: it would never expire");
  assert.equal(await read(signedIdentity(NEW, { ...claims, exp: exp(31 * 24 * HOUR) })), null, "exp more than 30 days ahead");
  assert.deepEqual(await read(signedIdentity(NEW, { ...claims, exp: exp(30 * 24 * HOUR) })), { user_id: "u-1007" }, "30 days ahead: the bound itself");
  assert.equal(await read(good, { aid: "a-visitor-2" }), null, "another visitor's cookie: bound to its anonymous id");
  assert.equal(await read(signedIdentity(NEW, { ...claims, anonymous_id: undefined })), null, "bound to no anonymous id");
  assert.equal(await read("v1.junk"), null);
  assert.equal(await read(signedIdentity(NEW, { ...claims, user_id: undefined })), null, "no user_id");
  const open = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y" });
  assert.equal(await read(good, { cfg: open }), null, "no IDENTITY_SECRET: no identity read");
});

test("a secret shorter than 32 bytes is a configuration error naming its binding", () => {
  for (const name of ["IDENTITY_SECRET", "DECISIONS_SECRET"]) {
    assert.throws(() => readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", [name]: "s" }), new RegExp(`${name}: each secret must be at least 32 bytes`));
    assert.throws(() => readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", [name]: `${NEW},short` }), new RegExp(name), "the second of a rotation too");
  }
});

const DECIDED = {
  "home-hero": {
    experience: "dach-mobile-hero",
    variant: "video",
    reason: "personalized",
    content: { headline: "Trails" },
    token: "tok-1",
    trace: [{ experience: "vip-hero", outcome: "not_in_audience" }],
  },
};

test("the page gets what it renders and the tokens; the trace only with EARNEST_DEBUG", () => {
  const production = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y" });
  assert.deepEqual(pageDecisions(DECIDED, production), {
    "home-hero": { experience: "dach-mobile-hero", variant: "video", reason: "personalized", content: { headline: "Trails" }, token: "tok-1" },
  });
  const debugging = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", EARNEST_DEBUG: "1" });
  assert.deepEqual(pageDecisions(DECIDED, debugging)["home-hero"].trace, DECIDED["home-hero"].trace);
});

test("the origin verifies the signed decisions header with the edge's secret, within its age", async () => {
  const secret = "the-origin-shares-this-decisions-secret-0001";
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", DECISIONS_SECRET: secret });
  const headers = await signedDecisions(config, DECIDED, NOW);
  const slim = { "home-hero": { experience: "dach-mobile-hero", variant: "video", reason: "personalized" } };
  assert.deepEqual(JSON.parse(headers["x-earnest-decisions"]), slim, "no content, token or trace to the origin");
  assert.deepEqual(await verifiedDecisions(headers, ["the-next-secret-of-the-rotation-000000", secret], { now: NOW + 1000 }), slim);
  assert.equal(await verifiedDecisions(headers, [secret], { now: NOW + 301_000 }), null, "older than 300 s");
  assert.equal(await verifiedDecisions(headers, ["a-secret-the-edge-does-not-have-0000000"], { now: NOW }), null);
  const edited = { ...headers, "x-earnest-decisions": headers["x-earnest-decisions"].replace("video", "vip") };
  assert.equal(await verifiedDecisions(edited, [secret], { now: NOW }), null, "the value edited");
  assert.equal(await verifiedDecisions({ "x-earnest-decisions": headers["x-earnest-decisions"] }, [secret], { now: NOW }), null, "unsigned");
  assert.deepEqual(await signedDecisions(readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y" }), DECIDED), {}, "no DECISIONS_SECRET: no header");
  // The Python helper (clients/origin/earnest_origin.py) reads the edge's signature alike.
  const byPython = async (h, now) =>
    JSON.parse(await python(`import json, sys; sys.path.insert(0, ${JSON.stringify(join(WORKER_ROOT, "../origin"))})
from earnest_origin import verified_decisions
print(json.dumps(verified_decisions(json.loads(${JSON.stringify(JSON.stringify(h))}), [${JSON.stringify(secret)}], now=${now / 1000})))`, {}));
  assert.deepEqual(await byPython(headers, NOW + 1000), slim);
  assert.equal(await byPython(edited, NOW + 1000), null);
  assert.equal(await byPython(headers, NOW + 301_000), null);
});
