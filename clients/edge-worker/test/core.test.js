// The core's pieces on their own: consent read from the CMP's TC string, checked against
// Earnest's Python decoder (the reference), routes, the signed identity cookie, authentication.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createHmac } from "node:crypto";
import { authorized, consentFrom, decideBody, identityFrom, placementsFor, readConfig, tcfPurposes } from "../src/core.js";
import { python } from "./harness.js";

// Published TC strings (IAB's examples, Ketch's, Usercentrics') from tests/unit/consent/test_tcf.py.
const STRINGS = [
  "COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA",
  "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=",
  "CPhBZtcPhBZtcACABAENCACgAIAAAAAAAAAAH2QAYH0AfYB9kAGB9YH2AAAA.YAAAAAAAAAAA",
  "CQP6E8AQP6E8AAFADAENBlFkAHJAAEBAAIYgF5wBAABAAGAXeAvMFfYAYC7wF5gV9ADHQAYAAgr6FAAwABBX0kABgACCvoAA.YAAAAAAAAAAA",
];

test("the TC string's purposes match Earnest's own decoder and mapping", () => {
  const reference = JSON.parse(
    python(
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

test("the SigV4 mode signs for the Lambda service in the configured region", async () => {
  const config = readConfig({
    EARNEST_DECIDE_URL: "x",
    EARNEST_EVENTS_URL: "y",
    EARNEST_AUTH: "sigv4",
    AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    AWS_REGION: "eu-west-1",
  });
  const request = await authorized(config, "https://abc.lambda-url.eu-west-1.on.aws/decide", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.match(request.headers.get("authorization"), /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[^,]*host[^,]*x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
  assert.match(request.headers.get("x-amz-date"), /^\d{8}T\d{6}Z$/);
  // the body's hash is signed, as CloudFront OAC requires for a POST to a Function URL
  assert.equal(request.headers.get("x-amz-content-sha256"), "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
});

/** The identity cookie as the site's login signs it (clients/edge-worker/README.md). */
function signedIdentity(secret, identity) {
  const payload = Buffer.from(JSON.stringify(identity)).toString("base64url");
  return `v1.${payload}.${createHmac("sha256", secret).update(`v1.${payload}`).digest("base64url")}`;
}

test("a signed identity cookie becomes decide's user, confidence and attributes; the unit stays the cookie id", async () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", IDENTITY_SECRET: "old-secret, new-secret" });
  const who = { user_id: "u-19", identity_confidence: 0.62, attributes: { ltv: 900 } };
  for (const secret of ["old-secret", "new-secret"]) {
    const headers = new Headers({ cookie: `earnest_aid=a-7f3-0001; earnest_identity=${signedIdentity(secret, who)}` });
    const identity = await identityFrom(headers, config);
    assert.deepEqual(identity, who);
    assert.deepEqual(decideBody("a-7f3-0001", ["home-hero"], {}, {}, identity), {
      visitor: { anonymous_id: "a-7f3-0001", user_id: "u-19", identity_confidence: 0.62 },
      placements: ["home-hero"],
      context: {},
      attributes: { ltv: 900 },
    });
  }
});

test("a forged, edited, expired or unconfigured identity cookie leaves the visitor anonymous", async () => {
  const config = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y", IDENTITY_SECRET: "site-secret" });
  const read = (value, cfg = config, now = undefined) => identityFrom(new Headers({ cookie: `earnest_identity=${value}` }), cfg, now);
  const good = signedIdentity("site-secret", { user_id: "u-1007", exp: 2_000_000_000 });
  assert.deepEqual(await read(good), { user_id: "u-1007" });
  assert.equal(await read(signedIdentity("another-secret", { user_id: "u-1007" })), null, "forged");
  const [, , sig] = good.split(".");
  const edited = Buffer.from(JSON.stringify({ user_id: "u-1", exp: 2_000_000_000 })).toString("base64url");
  assert.equal(await read(`v1.${edited}.${sig}`), null, "payload edited");
  assert.equal(await read(good, config, 2_000_000_000_000), null, "expired");
  assert.equal(await read("v1.junk"), null);
  assert.equal(await read(signedIdentity("site-secret", { identity_confidence: 1 })), null, "no user_id");
  const open = readConfig({ EARNEST_DECIDE_URL: "x", EARNEST_EVENTS_URL: "y" });
  assert.equal(await read(good, open), null, "no IDENTITY_SECRET: no identity read");
});
