// Decisions at the edge, under Miniflare against the local stack: the bundle the stack
// publishes to its S3, fetched with If-None-Match; /decide only where the edge cannot settle
// a placement; a pause at the edge within BUNDLE_MAX_AGE_S; the fallbacks.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { makeHandlers } from "../src/cloudfront.js";
import { bundleUrl, earnestCli, edgeTokenKey, pushLocalExperience, pushTestExperience, sendConsent, server, startStack, storedEvents, worker } from "./harness.js";

const GRANTED = `site_consent=${encodeURIComponent(JSON.stringify({ personalization: "granted", measurement: "granted" }))}`;
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64)";
const PAGE = `<!doctype html><html><head><title>shop</title></head><body>
<section data-earnest-placement="edge-local"><p data-earnest-field="note">Returns within 30 days</p></section>
<section data-earnest-placement="edge-hero"><h1 data-earnest-field="headline">Welcome to the shop</h1></section>
</body></html>`;
const MAX_AGE_S = 2;
let stack, site, decideProxy, bundleProxy, edge, neither, bindings;
let bundleMode = "pass";

before(async () => {
  stack = await startStack();
  await pushTestExperience(stack);
  await pushLocalExperience(stack);
  site = await server((req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE));
  decideProxy = await server(async (req, res, body) => {
    const answer = await fetch(`${stack.api}/decide`, { method: "POST", headers: { "content-type": "application/json", ...(req.headers["sec-gpc"] ? { "sec-gpc": "1" } : {}) }, body });
    res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
  });
  bundleProxy = await server(async (req, res) => (bundleMode === "down" ? res.writeHead(503).end() : fromS3(req, res)));
  bindings = {
    EARNEST_EVENTS_URL: `${stack.api}/events`,
    ORIGIN_URL: site.url,
    CONSENT_COOKIE: "site_consent",
    DECIDE_TIMEOUT_MS: "1000",
    EDGE_TOKEN_KEY: edgeTokenKey(stack),
    BUNDLE_MAX_AGE_S: String(MAX_AGE_S),
    // The origin's secret for the signed decisions header (edge-sec's point 1), where read.
    DECISIONS_SECRET: "the-origin-shares-this-decisions-secret-0002",
    // The bucket is private, as in production: the fetch is signed for S3.
    BUNDLE_AUTH: "sigv4",
    AWS_ACCESS_KEY_ID: stack.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: stack.env.AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN: stack.env.AWS_SESSION_TOKEN,
    EARNEST_ROUTES: JSON.stringify({ "/": ["edge-local"], "/both": ["edge-local", "edge-hero"] }),
  };
  edge = worker({ ...bindings, EARNEST_DECIDE_URL: `${decideProxy.url}/decide`, EARNEST_BUNDLE_URL: `${bundleProxy.url}/bundle.json` });
  neither = worker({ ...bindings, EARNEST_DECIDE_URL: "http://127.0.0.1:9/decide", EARNEST_BUNDLE_URL: `${bundleProxy.url}/bundle.json` });
});

after(async () => {
  await Promise.all([edge, neither].map((mf) => mf?.dispose()));
  await Promise.all([site, decideProxy, bundleProxy].map((s) => s?.close()));
  stack?.stop();
});

/** The stack's bundle from its S3, the worker's signed request passed on as it came. */
async function fromS3(req, res) {
  const forwarded = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k === "authorization" || k === "if-none-match" || k.startsWith("x-amz-")));
  const answer = await fetch(bundleUrl(stack), { headers: forwarded });
  const headers = answer.headers.get("etag") ? { etag: answer.headers.get("etag") } : {};
  res.writeHead(answer.status, headers).end(answer.status === 200 ? await answer.text() : undefined);
}

async function page(mf, { path = "/", cookie = GRANTED } = {}) {
  const hops = decideProxy.seen.length;
  const response = await mf.dispatchFetch(`https://shop.example${path}`, { headers: { cookie, "user-agent": DESKTOP } });
  const html = await response.text();
  const script = html.match(/<script type="application\/json" id="earnest-decisions">(.*?)<\/script>/);
  return { html, decisions: script ? JSON.parse(script[1]) : null, hop: decideProxy.seen.length > hops, asked: decideProxy.seen.slice(hops).map((s) => JSON.parse(s.body)) };
}

/** Pages until the worker holds the bundle (the first ones ask /decide while it loads). */
async function warm(mf) {
  for (let i = 0; i < 50; i += 1) {
    if (!(await page(mf)).hop) return;
    await sleep(100);
  }
  throw new Error("the worker never decided locally");
}

async function visitorIn(variant) {
  for (let i = 0; i < 200; i += 1) {
    const id = `edge-local-${Date.now()}-${i}`;
    const { decisions } = await page(edge, { cookie: `${GRANTED}; earnest_aid=${id}` });
    if (decisions?.["edge-local"]?.variant === variant) return id;
  }
  throw new Error(`no visitor landed in ${variant}`);
}

describe("decisions at the edge", () => {
  test("a contextual experience is decided in the worker: no call to /decide, the slot filled", async () => {
    await warm(edge);
    const id = await visitorIn("calm");
    const { html, hop, decisions } = await page(edge, { cookie: `${GRANTED}; earnest_aid=${id}` });
    assert.equal(hop, false);
    assert.match(html, /<p data-earnest-field="note">Free returns, always<\/p>/);
    assert.equal(decisions["edge-local"].reason, "personalized");
    assert.match(decisions["edge-local"].token, /^v1\.edge\./);
  });

  test("its exposure, signed by the edge's key, is verified by /events and stored as decide's are", async () => {
    await warm(edge);
    const id = await visitorIn("loud");
    let mine = [];
    for (let i = 0; i < 50 && !mine.length; i += 1) {
      await sleep(200);
      mine = (await storedEvents(stack)).filter((e) => e.unit_id === id && e.experience === "edge-local-test");
    }
    assert.equal(mine.length, 1);
    assert.equal(mine[0].type, "exposure");
    assert.equal(mine[0].variant, "loud");
    assert.equal(mine[0].reason, "personalized");
  });

  test("a consent-gated placement goes to /decide alone, and a stored withdrawal wins there", async () => {
    await warm(edge);
    const id = `edge-withdrawn-${Date.now()}`;
    const cookie = `${GRANTED}; earnest_aid=${id}`;
    const first = await page(edge, { path: "/both", cookie });
    assert.equal(first.hop, true);
    assert.deepEqual(first.asked.map((b) => b.placements), [["edge-hero"]]);
    assert.equal(first.decisions["edge-local"].experience, "edge-local-test");
    const status = await sendConsent(stack, {
      subject_id: id,
      event_id: `cmp-${id}`,
      event_time: new Date().toISOString(),
      source: "edge-test-cmp",
      jurisdiction: "FR",
      purposes: { personalization: "denied", measurement: "granted" },
    });
    assert.equal(status, 200);
    const next = await page(edge, { path: "/both", cookie });
    assert.equal(next.hop, true, "the cookie still grants: only the store knows of the withdrawal");
    assert.equal(next.decisions["edge-hero"].reason, "no_consent");
  });

  test("a pause reaches the edge within BUNDLE_MAX_AGE_S", async () => {
    await warm(edge);
    const id = await visitorIn("calm");
    const cookie = `${GRANTED}; earnest_aid=${id}`;
    assert.equal((await page(edge, { cookie })).decisions["edge-local"].variant, "calm");
    await earnestCli(stack, ["pause", "edge-local-test/calm", "--reason", "edge freshness test", "--actor", "edge-test"]);
    const paused = Date.now();
    let seenAt = null;
    while (Date.now() - paused <= MAX_AGE_S * 1000 + 200) {
      const { decisions } = await page(edge, { cookie });
      if (decisions["edge-local"].variant !== "calm") seenAt ??= Date.now() - paused;
      else assert.equal(seenAt, null, "once the pause is seen, it stays");
      await sleep(100);
    }
    assert.ok(seenAt !== null && seenAt <= MAX_AGE_S * 1000, `the pause reached the edge after ${seenAt} ms`);
    const { decisions, hop } = await page(edge, { cookie });
    assert.equal(decisions["edge-local"].variant, "loud");
    assert.equal(hop, false, "and the worker decides locally from the new bundle");
    await earnestCli(stack, ["resume", "edge-local-test/calm", "--reason", "edge freshness test done", "--actor", "edge-test"]);
  });

  test("past the bound the worker asks /decide; with neither, the default page", async () => {
    await warm(edge);
    await warm(neither);
    bundleMode = "down";
    try {
      await sleep(MAX_AGE_S * 1000 + 300);
      const { hop, decisions } = await page(edge);
      assert.equal(hop, true);
      assert.equal(decisions["edge-local"].experience, "edge-local-test");
      const fallback = await page(neither);
      assert.equal(fallback.decisions, null);
      assert.match(fallback.html, /Returns within 30 days/);
    } finally {
      bundleMode = "pass";
    }
  });
});

describe("pages that overlap in one isolate", () => {
  test("pages served while another page's bundle fetch is in flight all answer; the isolate fetches the bundle once and decides from it", async () => {
    const slow = await server(async (req, res) => {
      await sleep(600); // the first page's fetch is still in flight while the others come (within its 2 s timeout)
      await fromS3(req, res);
    });
    const mf = worker({ ...bindings, BUNDLE_MAX_AGE_S: "600", EARNEST_DECIDE_URL: `${decideProxy.url}/decide`, EARNEST_BUNDLE_URL: `${slow.url}/bundle.json` });
    try {
      const overlapping = await Promise.all([0, 50, 100, 150, 200, 250].map((ms) => sleep(ms).then(() => page(mf))));
      for (const { decisions } of overlapping) assert.equal(decisions["edge-local"].experience, "edge-local-test");
      await warm(mf);
      assert.equal(slow.seen.length, 1, "one fetch for the isolate, whichever pages came while it ran");
    } finally {
      await mf.dispose();
      await slow.close();
    }
  });
});

describe("decisions at the edge on CloudFront (Lambda@Edge)", () => {
  test("origin-request decides a contextual placement from the bundle, without /decide", async () => {
    const handlers = makeHandlers({ ...bindings, EARNEST_DECIDE_URL: `${decideProxy.url}/decide`, EARNEST_BUNDLE_URL: `${bundleProxy.url}/bundle.json`, EARNEST_ROUTES: { "/": ["edge-local"] } });
    const headers = { host: [{ key: "Host", value: "shop.example" }], "user-agent": [{ key: "User-Agent", value: DESKTOP }], cookie: [{ key: "Cookie", value: GRANTED }] };
    const hops = decideProxy.seen.length;
    // No waitUntil on Lambda@Edge: the first request awaits the bundle, within decide's budget.
    const request = await handlers.originRequest({ Records: [{ cf: { request: { method: "GET", uri: "/", querystring: "", headers } } }] });
    assert.match(request.headers["x-earnest-decisions"][0].value, /edge-local-test/);
    assert.equal(decideProxy.seen.length, hops);
  });
});
