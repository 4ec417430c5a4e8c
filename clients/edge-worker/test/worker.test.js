// The reference worker under Miniflare against the real local stack, over real HTTP.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { makeHandlers } from "../src/cloudfront.js";
import { origin, pushTestExperience, sendConsent, server, startStack, storedEvents, worker } from "./harness.js";

const GRANTED = `site_consent=${encodeURIComponent(JSON.stringify({ personalization: "granted", measurement: "granted" }))}`;
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64)";
const ORIGIN_SECRET = "the-origin-shares-this-decisions-secret-0001";
const LOGIN_SECRET = "the-site-login-signs-identity-cookies-0001";
let stack, site, live, slowDecide, slow, brokenDecide, broken, recordingDecide, vouching, recordingEvents, batching;

before(async () => {
  stack = await startStack();
  await pushTestExperience(stack);
  site = await origin();
  const bindings = { EARNEST_EVENTS_URL: `${stack.api}/events`, ORIGIN_URL: site.url, CONSENT_COOKIE: "site_consent", DECISIONS_SECRET: ORIGIN_SECRET };
  live = worker({ ...bindings, EARNEST_DECIDE_URL: `${stack.api}/decide`, DECIDE_TIMEOUT_MS: "1000" });
  slowDecide = await server((req, res) => setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end('{"decisions":{}}'), 2000));
  slow = worker({ ...bindings, EARNEST_DECIDE_URL: `${slowDecide.url}/decide`, DECIDE_TIMEOUT_MS: "50" });
  brokenDecide = await server((req, res) => res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"code":"unavailable"}}'));
  broken = worker({ ...bindings, EARNEST_DECIDE_URL: `${brokenDecide.url}/decide` });
  recordingDecide = await server((req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"decisions":{}}'));
  vouching = worker({ ...bindings, EARNEST_DECIDE_URL: `${recordingDecide.url}/decide`, IDENTITY_SECRET: LOGIN_SECRET });
  recordingEvents = await server((req, res) => res.writeHead(202, { "content-type": "application/json" }).end('{"stored":0}'));
  const decideLive = `${stack.api}/decide`;
  batching = worker({ ...bindings, EARNEST_DECIDE_URL: decideLive, EARNEST_EVENTS_URL: `${recordingEvents.url}/events`, DECIDE_TIMEOUT_MS: "1000", EXPOSURE_BATCH_MS: "400" });
});

after(async () => {
  await Promise.all([live, slow, broken, vouching, batching].map((mf) => mf?.dispose()));
  await Promise.all([site, slowDecide, brokenDecide, recordingDecide, recordingEvents].map((s) => s?.close()));
  stack?.stop();
});

async function page(mf, { cookie = GRANTED, headers = {} } = {}) {
  const started = Date.now();
  const response = await mf.dispatchFetch("https://shop.example/", { headers: { cookie, "user-agent": DESKTOP, ...headers } });
  const html = await response.text();
  return { response, html, ms: Date.now() - started, origin: site.seen.at(-1) };
}

/** A visitor id decide puts in the variant (not in a holdout), found by asking decide itself. */
async function variantVisitor() {
  for (let i = 0; i < 50; i += 1) {
    const id = `edge-visitor-${Date.now()}-${i}`;
    const answer = await (await fetch(`${stack.api}/decide`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ visitor: { anonymous_id: id }, placements: ["edge-hero"], context: { device: "desktop" }, consent: { purposes: { personalization: "granted" } } }),
    })).json();
    if (answer.decisions["edge-hero"].reason === "personalized") return id;
  }
  throw new Error("no visitor landed in the variant");
}

describe("the worker", () => {
  test("a personalized page: the slot filled, the decisions in a script element and in the origin's header", async () => {
    const id = await variantVisitor();
    const { response, html, origin: seen } = await page(live, { cookie: `${GRANTED}; earnest_aid=${id}` });
    assert.equal(response.status, 200);
    assert.match(html, /<h1 data-earnest-field="headline">Personal pick for you<\/h1>/);
    assert.match(html, /data-earnest-placement="edge-hero" data-earnest-reason="personalized" data-earnest-experience="edge-hero-test" data-earnest-variant="bold"/);
    const script = html.match(/<script type="application\/json" id="earnest-decisions">(.*?)<\/script>/);
    assert.equal(JSON.parse(script[1])["edge-hero"].variant, "bold");
    assert.deepEqual(JSON.parse(seen.headers["x-earnest-decisions"]), { "edge-hero": { experience: "edge-hero-test", variant: "bold", reason: "personalized" } });
    assert.equal(response.headers.get("set-cookie"), null, "a returning visitor keeps its cookie");
  });

  test("a first visit gets the anonymous-id cookie: HttpOnly, Secure, SameSite=Lax", async () => {
    const { response } = await page(live, { cookie: GRANTED });
    assert.match(response.headers.get("set-cookie"), /^earnest_aid=[0-9a-f-]{36}; Max-Age=31536000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });

  test("the exposure for what was rendered is stored once in S3, with decide's token", async () => {
    const id = await variantVisitor();
    await page(live, { cookie: `${GRANTED}; earnest_aid=${id}` });
    let mine = [];
    for (let i = 0; i < 50 && !mine.length; i += 1) {
      await sleep(100);
      mine = (await storedEvents(stack)).filter((e) => e.unit_id === id);
    }
    assert.equal(mine.length, 1);
    assert.equal(mine[0].type, "exposure");
    assert.equal(mine[0].experience, "edge-hero-test");
    assert.equal(mine[0].variant, "bold");
  });

  test("page views served meanwhile share one exposure batch per consent", async () => {
    const ids = [await variantVisitor(), await variantVisitor(), await variantVisitor()];
    const other = `site_consent=${encodeURIComponent(JSON.stringify({ personalization: "granted", measurement: "denied" }))}`;
    for (const id of ids) await page(batching, { cookie: `${GRANTED}; earnest_aid=${id}` });
    await page(batching, { cookie: `${other}; earnest_aid=${ids[0]}` });
    for (let i = 0; i < 50 && recordingEvents.seen.length < 2; i += 1) await sleep(100);
    await sleep(600); // a third post, if there were one, would be in by now
    const batches = recordingEvents.seen.map((s) => JSON.parse(s.body));
    assert.equal(batches.length, 2);
    const byMeasurement = Object.fromEntries(batches.map((b) => [b.consent.purposes.measurement, b.events.length]));
    assert.deepEqual(byMeasurement, { granted: 3, denied: 1 });
    assert.equal(new Set(recordingEvents.seen.map((s) => s.headers["idempotency-key"])).size, 2);
  });

  test("decide slower than the budget: the default page, without waiting for decide", async () => {
    const { response, html, ms, origin: seen } = await page(slow);
    assert.equal(response.status, 200);
    assert.match(html, /Welcome to the shop/);
    assert.doesNotMatch(html, /earnest-decisions/);
    assert.equal(seen.headers["x-earnest-decisions"], undefined);
    assert.ok(ms < 1000, `the page took ${ms} ms; decide answers only after 2000 ms`);
  });

  test("decide answering 5xx: the default page", async () => {
    const { response, html } = await page(broken);
    assert.equal(response.status, 200);
    assert.match(html, /Welcome to the shop/);
    assert.doesNotMatch(html, /earnest-decisions/);
  });

  test("Sec-GPC is forwarded to decide and honoured: no personalization", async () => {
    const id = await variantVisitor();
    const { html, origin: seen } = await page(live, { cookie: `${GRANTED}; earnest_aid=${id}`, headers: { "sec-gpc": "1" } });
    assert.match(html, /Welcome to the shop/);
    assert.equal(JSON.parse(seen.headers["x-earnest-decisions"])["edge-hero"].reason, "no_consent");
  });

  test("a withdrawal sent through the signed webhook is honoured on the next page", async () => {
    const id = await variantVisitor();
    const cookie = `${GRANTED}; earnest_aid=${id}`;
    assert.match((await page(live, { cookie })).html, /Personal pick for you/);
    const status = await sendConsent(stack, {
      subject_id: id,
      event_id: `cmp-${id}`,
      event_time: new Date().toISOString(),
      source: "edge-test-cmp",
      jurisdiction: "FR",
      purposes: { personalization: "denied", measurement: "granted" },
    });
    assert.equal(status, 200);
    const next = await page(live, { cookie });
    assert.match(next.html, /Welcome to the shop/);
    assert.equal(JSON.parse(next.origin.headers["x-earnest-decisions"])["edge-hero"].reason, "no_consent");
  });

  test("the site's signed identity cookie reaches decide; an edited one, or one copied to another visitor, does not", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const payload = Buffer.from(JSON.stringify({ user_id: "u-19", identity_confidence: 0.62, attributes: { ltv: 900 }, anonymous_id: "edge-vouched-0001", exp })).toString("base64url");
    const signed = `v1.${payload}.${createHmac("sha256", LOGIN_SECRET).update(`v1.${payload}`).digest("base64url")}`;
    await page(vouching, { cookie: `${GRANTED}; earnest_aid=edge-vouched-0001; earnest_identity=${signed}` });
    const body = JSON.parse(recordingDecide.seen.at(-1).body);
    assert.deepEqual(body.visitor, { anonymous_id: "edge-vouched-0001", user_id: "u-19", identity_confidence: 0.62 });
    assert.deepEqual(body.attributes, { ltv: 900 });
    await page(vouching, { cookie: `${GRANTED}; earnest_aid=edge-vouched-0001; earnest_identity=${signed.replace("v1.", "v1.e")}` });
    const edited = JSON.parse(recordingDecide.seen.at(-1).body);
    assert.deepEqual(edited.visitor, { anonymous_id: "edge-vouched-0001" });
    assert.equal(edited.attributes, undefined);
    // The same cookie copied to another visitor: it names the first visitor's anonymous id.
    await page(vouching, { cookie: `${GRANTED}; earnest_aid=edge-vouched-0002; earnest_identity=${signed}` });
    assert.deepEqual(JSON.parse(recordingDecide.seen.at(-1).body).visitor, { anonymous_id: "edge-vouched-0002" });
  });

  test("a path outside the route table is passed through untouched", async () => {
    const response = await live.dispatchFetch("https://shop.example/about", { headers: { cookie: GRANTED } });
    assert.doesNotMatch(await response.text(), /earnest-decisions/);
    assert.equal(site.seen.at(-1).headers["x-earnest-decisions"], undefined);
  });
});

describe("the CloudFront adapter", () => {
  function viewerRequest(cookie) {
    const headers = { host: [{ key: "Host", value: "shop.example" }], "user-agent": [{ key: "User-Agent", value: DESKTOP }] };
    if (cookie) headers.cookie = [{ key: "Cookie", value: cookie }];
    return { Records: [{ cf: { request: { method: "GET", uri: "/", querystring: "", headers } } }] };
  }

  test("origin-request forwards the decisions; origin-response sets the new visitor's cookie", async () => {
    const handlers = makeHandlers({
      EARNEST_DECIDE_URL: `${stack.api}/decide`,
      EARNEST_EVENTS_URL: `${stack.api}/events`,
      DECIDE_TIMEOUT_MS: "1000",
      CONSENT_COOKIE: "site_consent",
      DECISIONS_SECRET: ORIGIN_SECRET,
      EARNEST_ROUTES: { "/": ["edge-hero"] },
    });
    const id = await variantVisitor();
    const known = await handlers.originRequest(viewerRequest(`${GRANTED}; earnest_aid=${id}`));
    assert.equal(JSON.parse(known.headers["x-earnest-decisions"][0].value)["edge-hero"].variant, "bold");
    const fresh = await handlers.originRequest(viewerRequest(GRANTED));
    const response = await handlers.originResponse({ Records: [{ cf: { request: fresh, response: { status: "200", headers: {} } } }] });
    assert.match(response.headers["set-cookie"][0].value, /^earnest_aid=[0-9a-f-]{36};.*HttpOnly; Secure; SameSite=Lax$/);
  });
});
