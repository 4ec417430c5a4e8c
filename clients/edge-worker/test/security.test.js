// The worker attacked as a visitor and as a CDN operator would: spoofed x-earnest-* headers on
// every path and method, an origin that asks for public caching, GPC, and decide slow, down
// and bypassed. Against `earnest serve` with the shared-secret front door on
// (FRONT_DOOR_SECRET), so decide answers only the edge.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { verifiedDecisions } from "../../origin/earnest-origin.mjs";
import { NEW_ID, makeHandlers } from "../src/cloudfront.js";
import { PAGE, pushTestExperience, server, startStack, storedEvents, worker } from "./harness.js";

const FRONT_DOOR = "the-cdn-adds-this-front-door-secret-0001";
const ORIGIN_SECRET = "the-origin-shares-this-decisions-secret-0001";
const GRANTED = `site_consent=${encodeURIComponent(JSON.stringify({ personalization: "granted", measurement: "granted" }))}`;
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64)";
const PUBLIC = "public, max-age=600";
// What a visitor would send to choose its own variant and cookie, and to pose as the edge.
const SPOOFED = {
  "x-earnest-decisions": JSON.stringify({ "edge-hero": { experience: "vip-only", variant: "gold", reason: "personalized" } }),
  "x-earnest-signature": `t=${Math.floor(Date.now() / 1000)},v1=${"A".repeat(43)}`,
  "x-earnest-new-anonymous-id": "chosen-id; Domain=.example; Max-Age=999999999",
  "x-earnest-edge-secret": FRONT_DOOR,
  "x-earnest-debug": "1",
};
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const PATHS = ["/", "/shop/boots", "/about"];

let stack, site, events, stored, live, slow, down, unsigned, debug, lasting, slowDecide, downDecide;

before(async () => {
  stack = await startStack({ FRONT_DOOR_SECRET: FRONT_DOOR });
  await pushTestExperience(stack, { priority: 2 }); // needs personalization consent
  await pushTestExperience(stack, { id: "edge-hero-open", priority: 1, gated: false }); // needs none, ranks below
  // An origin that asks every cache to keep its pages, and sets a cookie on /login.
  site = await server((req, res) => {
    const headers = { "content-type": "text/html; charset=utf-8", "cache-control": PUBLIC, "cdn-cache-control": "max-age=600" };
    if (req.url === "/login") headers["set-cookie"] = "session=s-1; Path=/; HttpOnly";
    res.writeHead(200, headers).end(req.method === "HEAD" ? undefined : PAGE);
  });
  // /events through a relay that keeps what /events answered.
  stored = [];
  events = await server(async (req, res, body) => {
    const headers = { "content-type": "application/json", [`x-earnest-edge-secret`]: req.headers["x-earnest-edge-secret"] ?? "" };
    if (req.headers["sec-gpc"]) headers["sec-gpc"] = req.headers["sec-gpc"];
    const answer = await fetch(`${stack.api}/events`, { method: "POST", headers, body });
    const text = await answer.text();
    const batch = (() => {
      try {
        return JSON.parse(body);
      } catch {
        return {}; // a beacon that is not JSON: /events says so
      }
    })();
    stored.push({ status: answer.status, answer: JSON.parse(text), batch, gpc: req.headers["sec-gpc"] });
    res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
  });
  slowDecide = await server((req, res) => setTimeout(() => res.writeHead(200, { "content-type": "application/json" }).end('{"decisions":{}}'), 2000));
  downDecide = await server((req, res) => res.writeHead(503, { "content-type": "application/json" }).end('{"error":{"code":"unavailable"}}'));
  const bindings = {
    EARNEST_EVENTS_URL: `${events.url}/events`,
    ORIGIN_URL: site.url,
    CONSENT_COOKIE: "site_consent",
    DECISIONS_SECRET: ORIGIN_SECRET,
    EARNEST_AUTH: "header",
    EARNEST_AUTH_SECRET: FRONT_DOOR,
    EXPOSURE_BATCH_MS: "0",
  };
  const decideLive = { EARNEST_DECIDE_URL: `${stack.api}/decide`, DECIDE_TIMEOUT_MS: "1000" };
  live = worker({ ...bindings, ...decideLive });
  slow = worker({ ...bindings, EARNEST_DECIDE_URL: `${slowDecide.url}/decide`, DECIDE_TIMEOUT_MS: "50" });
  down = worker({ ...bindings, EARNEST_DECIDE_URL: `${downDecide.url}/decide` });
  unsigned = worker({ ...bindings, ...decideLive, EARNEST_AUTH: "none" }); // an edge without the secret
  debug = worker({ ...bindings, ...decideLive, EARNEST_DEBUG: "1" });
  lasting = worker({ ...bindings, ...decideLive, PERSONALIZED_MAX_AGE: "60" });
});

after(async () => {
  await Promise.all([live, slow, down, unsigned, debug, lasting].map((mf) => mf?.dispose()));
  await Promise.all([site, events, slowDecide, downDecide].map((s) => s?.close()));
  stack?.stop();
});

/** decide as only the edge may call it: with the front door's secret. */
async function decideAsEdge(body, headers = {}) {
  return fetch(`${stack.api}/decide`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-earnest-edge-secret": FRONT_DOOR, ...headers },
    body: JSON.stringify(body),
  });
}

/** A visitor id decide puts in edge-hero-test's variant (not a holdout). */
async function variantVisitor() {
  for (let i = 0; i < 50; i += 1) {
    const id = `edge-sec-${Date.now()}-${i}`;
    const body = { visitor: { anonymous_id: id }, placements: ["edge-hero"], context: { device: "desktop" }, consent: { purposes: { personalization: "granted" } } };
    const answer = await (await decideAsEdge(body)).json();
    if (answer.decisions["edge-hero"].reason === "personalized") return id;
  }
  throw new Error("no visitor landed in the variant");
}

async function view(mf, path = "/", { cookie = GRANTED, headers = {}, method = "GET" } = {}) {
  const before = site.seen.length;
  const body = ["POST", "PUT", "PATCH"].includes(method) ? "q=1" : undefined;
  const response = await mf.dispatchFetch(`https://shop.example${path}`, { method, body, headers: { cookie, "user-agent": DESKTOP, ...headers } });
  const html = await response.text();
  assert.equal(site.seen.length, before + 1, `${method} ${path} reached the origin once`);
  return { response, html, origin: site.seen.at(-1) };
}

describe("nothing a visitor sends steers the worker", () => {
  test("no viewer x-earnest-* header reaches the origin, on any path or method, decide up, slow, down or gone around", async () => {
    const id = await variantVisitor();
    for (const [name, mf] of Object.entries({ live, slow, down })) {
      for (const method of METHODS) {
        for (const path of PATHS) {
          const { response, origin } = await view(mf, path, { method, cookie: `${GRANTED}; earnest_aid=${id}`, headers: SPOOFED });
          const where = `${name} ${method} ${path}`;
          for (const header of ["x-earnest-new-anonymous-id", "x-earnest-edge-secret", "x-earnest-debug"]) {
            assert.equal(origin.headers[header], undefined, `${where}: ${header}`);
          }
          assert.notEqual(origin.headers["x-earnest-decisions"], SPOOFED["x-earnest-decisions"], where);
          assert.notEqual(origin.headers["x-earnest-signature"], SPOOFED["x-earnest-signature"], where);
          const decided = name === "live" && method === "GET" && path !== "/about";
          if (decided) {
            // The edge's own decisions, signed: the origin can tell them from a visitor's.
            const verified = await verifiedDecisions(origin.headers, [ORIGIN_SECRET]);
            assert.deepEqual(verified, { "edge-hero": { experience: "edge-hero-test", variant: "bold", reason: "personalized" } }, where);
          } else {
            assert.equal(origin.headers["x-earnest-decisions"], undefined, where);
          }
          assert.doesNotMatch(response.headers.get("set-cookie") ?? "", /chosen-id/, where);
        }
      }
    }
    // Going around the worker gets nothing: decide answers only the edge (the front door's
    // secret), so identity claims reach it from the edge alone; an edge without the secret
    // serves the default page.
    const claims = { visitor: { anonymous_id: id, user_id: "u-1007", identity_confidence: 1 }, placements: ["edge-hero"], context: { device: "desktop" } };
    const direct = await fetch(`${stack.api}/decide`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(claims) });
    assert.equal(direct.status, 401);
    assert.deepEqual((await direct.json()).error.field, "x-earnest-edge-secret");
    assert.doesNotMatch(JSON.stringify(await (await fetch(`${stack.api}/decide`, { method: "POST", body: "{}", headers: { "x-earnest-edge-secret": "a-guess" } })).json()), /decisions/);
    const { html, response } = await view(unsigned, "/", { cookie: `${GRANTED}; earnest_aid=${id}` });
    assert.match(html, /Welcome to the shop/);
    assert.doesNotMatch(html, /earnest-decisions/);
    assert.equal(response.headers.get("cache-control"), PUBLIC, "the default page, cacheable as the origin said");
    assert.match((await view(live, "/", { cookie: `${GRANTED}; earnest_aid=${id}` })).html, /Personal pick for you/);
  });
});

describe("caching is safe by construction", () => {
  test("a personalized page is private, no-store, whatever the origin asked, the CDN-only caching headers gone; the default page cacheable as the origin said", async () => {
    const id = await variantVisitor();
    const { response, html } = await view(live, "/", { cookie: `${GRANTED}; earnest_aid=${id}` });
    assert.match(html, /Personal pick for you/);
    assert.equal(response.headers.get("cache-control"), "private, no-store");
    assert.equal(response.headers.get("cdn-cache-control"), null);
    assert.equal(response.headers.get("set-cookie"), null);
    const kept = await view(lasting, "/", { cookie: `${GRANTED}; earnest_aid=${id}` });
    assert.equal(kept.response.headers.get("cache-control"), "private, max-age=60", "PERSONALIZED_MAX_AGE: the visitor's own browser may keep it");
    // The default page for a visitor with no decisions stays cacheable as the origin said.
    for (const mf of [slow, down]) {
      const { response } = await view(mf, "/", { cookie: `${GRANTED}; earnest_aid=edge-sec-returning-0001` });
      assert.equal(response.headers.get("cache-control"), PUBLIC);
      assert.equal(response.headers.get("cdn-cache-control"), "max-age=600");
    }
    assert.equal((await view(live, "/about")).response.headers.get("cache-control"), PUBLIC);
  });

  test("a page that sets a cookie is private, even the default page and a path the worker does not decide for", async () => {
    const first = await view(down, "/", { cookie: GRANTED });
    assert.match(first.response.headers.get("set-cookie"), /^earnest_aid=/);
    assert.equal(first.response.headers.get("cache-control"), "private, no-store");
    const login = await view(live, "/login", { cookie: GRANTED });
    assert.match(login.response.headers.get("set-cookie"), /^session=/);
    assert.equal(login.response.headers.get("cache-control"), "private, no-store");
  });
});

describe("the page carries only what it renders", () => {
  test("content and tokens in the page; the trace only with EARNEST_DEBUG", async () => {
    const cookie = `${GRANTED}; earnest_aid=edge-sec-traced-0001`;
    const read = async (mf) => JSON.parse((await view(mf, "/", { cookie, headers: { "sec-gpc": "1" } })).html.match(/id="earnest-decisions">(.*?)<\/script>/)[1])["edge-hero"];
    const shown = await read(live);
    assert.equal(shown.experience, "edge-hero-open", "GPC: the gated experience loses, the open one wins");
    assert.ok(shown.token);
    assert.deepEqual(Object.keys(shown).sort(), ["content", "experience", "reason", "token", "variant"]);
    assert.deepEqual((await read(debug)).trace, [{ experience: "edge-hero-test", outcome: "no_consent" }]);
  });
});

describe("GPC means one thing everywhere", () => {
  test("a GPC page view through the worker stores nothing: /events gets Sec-GPC and consent.gpc, and keeps neither", async () => {
    const id = `edge-sec-gpc-${Date.now()}`;
    const before = stored.length;
    const { html } = await view(live, "/", { cookie: `${GRANTED}; earnest_aid=${id}`, headers: { "sec-gpc": "1" } });
    assert.match(html, /data-earnest-experience="edge-hero-open"/);
    let posted;
    for (let i = 0; i < 50 && !posted; i += 1) {
      await sleep(100);
      posted = stored.slice(before).find((s) => s.batch.consent?.gpc && s.batch.events?.some((e) => e.type === "exposure"));
    }
    assert.equal(posted.status, 202);
    assert.equal(posted.gpc, "1", "the header");
    assert.equal(posted.batch.consent.gpc, true, "and the body");
    assert.deepEqual([posted.answer.accepted, posted.answer.stored, posted.answer.no_consent], [1, 0, 1]);
    assert.deepEqual((await storedEvents(stack)).filter((e) => e.unit_id === id), []);
  });
});

describe("beacons reach /events through the site's own path", () => {
  test("sendBeacon to /earnest/events through the worker is stored, with the edge's secret that no page holds; straight to /events it is refused", async () => {
    const unit = `edge-sec-beacon-${Date.now()}`;
    const beacon = (events) => JSON.stringify({ events, consent: { purposes: { measurement: "granted" } } });
    const purchase = (id) => ({ type: "conversion", event_id: id, unit_id: unit, name: "purchase", value: 84.5, currency: "EUR", ts: Date.now() });
    // As sendBeacon sends a string: text/plain, no headers of the page's choosing.
    const send = (mf, body, headers = {}) => mf.dispatchFetch("https://shop.example/earnest/events", { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8", ...headers } });
    const relayed = await send(live, beacon([purchase(`c-${unit}-1`)]));
    assert.equal(relayed.status, 202);
    assert.equal(relayed.headers.get("cache-control"), "no-store");
    assert.equal((await relayed.json()).stored, 1);
    const gpc = await send(live, beacon([purchase(`c-${unit}-2`)]), { "sec-gpc": "1" });
    assert.deepEqual([(await gpc.json()).stored, (await (await send(live, "{")).json()).error.field], [0, "body"]);
    assert.deepEqual((await storedEvents(stack)).filter((e) => e.unit_id === unit).map((e) => e.event_id), [`c-${unit}-1`]);
    const direct = await fetch(`${stack.api}/events`, { method: "POST", body: beacon([purchase(`c-${unit}-3`)]), headers: { "content-type": "text/plain;charset=UTF-8" } });
    assert.equal(direct.status, 401);
  });
});

describe("the CloudFront adapter", () => {
  const config = () => ({
    EARNEST_DECIDE_URL: `${stack.api}/decide`,
    EARNEST_EVENTS_URL: `${stack.api}/events`,
    DECIDE_TIMEOUT_MS: "1000",
    CONSENT_COOKIE: "site_consent",
    DECISIONS_SECRET: ORIGIN_SECRET,
    EARNEST_AUTH: "header",
    EARNEST_AUTH_SECRET: FRONT_DOOR,
    EARNEST_ROUTES: { "/": ["edge-hero"], "/shop/*": ["edge-hero"] },
  });

  function viewerRequest({ cookie, method = "GET", uri = "/", extra = {} } = {}) {
    const headers = { host: [{ key: "Host", value: "shop.example" }], "user-agent": [{ key: "User-Agent", value: DESKTOP }] };
    if (cookie) headers.cookie = [{ key: "Cookie", value: cookie }];
    for (const [name, value] of Object.entries(extra)) headers[name] = [{ key: name, value }];
    return { Records: [{ cf: { request: { method, uri, querystring: "", headers } } }] };
  }
  const originResponse = (handlers, request, headers = {}) =>
    handlers.originResponse({ Records: [{ cf: { request, response: { status: "200", headers: { "cache-control": [{ key: "Cache-Control", value: PUBLIC }], ...headers } } } }] });

  test("origin-request drops every viewer x-earnest-* header on every path and method, decide up or down", async () => {
    const handlers = makeHandlers(config());
    const broken = makeHandlers({ ...config(), EARNEST_DECIDE_URL: `${downDecide.url}/decide` });
    const id = await variantVisitor();
    for (const [name, h] of Object.entries({ live: handlers, down: broken })) {
      for (const method of METHODS) {
        for (const uri of PATHS) {
          const request = await h.originRequest(viewerRequest({ cookie: `${GRANTED}; earnest_aid=${id}`, method, uri, extra: SPOOFED }));
          const where = `${name} ${method} ${uri}`;
          const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, v[0].value]));
          assert.deepEqual(Object.keys(headers).filter((k) => k.startsWith("x-earnest-") && !["x-earnest-decisions", "x-earnest-signature"].includes(k)), [], where);
          if (name === "live" && method === "GET" && uri !== "/about") {
            assert.equal((await verifiedDecisions(headers, [ORIGIN_SECRET]))["edge-hero"].variant, "bold", where);
          } else {
            assert.equal(headers["x-earnest-decisions"], undefined, where);
          }
        }
      }
    }
  });

  test("the anonymous id is made at the edge only: a viewer's, or a forged handoff, never reaches Set-Cookie", async () => {
    const handlers = makeHandlers(config());
    const fresh = await handlers.originRequest(viewerRequest({ cookie: GRANTED, extra: { [NEW_ID]: "chosen-id; Domain=.example; Max-Age=999999999" } }));
    const response = await originResponse(handlers, fresh);
    assert.match(response.headers["set-cookie"][0].value, /^earnest_aid=[0-9a-f-]{36}; Max-Age=31536000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    assert.equal(response.headers["cache-control"][0].value, "private, no-store");
    // origin-response alone (origin-request not associated, or bypassed): no handoff it can trust.
    const forged = viewerRequest({ extra: { [NEW_ID]: `${crypto.randomUUID()} t=${Math.floor(Date.now() / 1000)},v1=${"A".repeat(43)}` } });
    const none = await originResponse(handlers, forged.Records[0].cf.request);
    assert.equal(none.headers["set-cookie"], undefined);
    assert.equal(none.headers["cache-control"][0].value, PUBLIC, "the default page for a returning visitor, as the origin said");
    // Another edge's handoff (another secret) is not this edge's either.
    const other = makeHandlers({ ...config(), DECISIONS_SECRET: "another-edge-with-another-decisions-secret" });
    const theirs = await other.originRequest(viewerRequest({ cookie: GRANTED }));
    assert.equal((await originResponse(handlers, theirs)).headers["set-cookie"], undefined);
  });

  test("a page's beacon to /earnest/events is relayed from origin-request, answered there, never reaching the origin", async () => {
    const handlers = makeHandlers(config());
    const unit = `edge-sec-cf-beacon-${Date.now()}`;
    const body = JSON.stringify({ events: [{ type: "conversion", event_id: `c-${unit}`, unit_id: unit, name: "purchase", value: 10, currency: "EUR", ts: Date.now() }], consent: { purposes: { measurement: "granted" } } });
    const event = viewerRequest({ method: "POST", uri: "/earnest/events" });
    event.Records[0].cf.request.body = { inputTruncated: false, action: "read-only", encoding: "base64", data: Buffer.from(body).toString("base64") };
    const answer = await handlers.originRequest(event);
    assert.equal(answer.status, "202");
    assert.equal(JSON.parse(answer.body).stored, 1);
    assert.equal(answer.headers["cache-control"][0].value, "no-store");
    event.Records[0].cf.request.body.inputTruncated = true;
    assert.equal((await handlers.originRequest(event)).status, "413");
  });

  test("on Lambda@Edge it signs decide's request with SigV4 as its own role (the runtime's credentials)", async () => {
    const seen = await server((req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"decisions":{}}'));
    try {
      const runtime = { AWS_ACCESS_KEY_ID: "ASIAEDGEROLE", AWS_SECRET_ACCESS_KEY: "edge-role-secret", AWS_SESSION_TOKEN: "edge-role-session", AWS_REGION: "us-east-1" };
      const handlers = makeHandlers({ ...config(), EARNEST_AUTH: "sigv4", EARNEST_DECIDE_URL: `${seen.url}/decide` }, runtime);
      await handlers.originRequest(viewerRequest({ cookie: GRANTED }));
      const [{ headers }] = seen.seen;
      assert.match(headers.authorization, /^AWS4-HMAC-SHA256 Credential=ASIAEDGEROLE\/\d{8}\/us-east-1\/lambda\/aws4_request/);
      assert.equal(headers["x-amz-security-token"], "edge-role-session");
      assert.match(headers["x-amz-content-sha256"], /^[0-9a-f]{64}$/);
    } finally {
      await seen.close();
    }
  });

  test("on Lambda@Edge it fetches the rules bundle signed for S3 as that same role", async () => {
    const seen = await server((req, res) => (req.method === "GET" ? res.writeHead(404).end() : res.writeHead(200, { "content-type": "application/json" }).end('{"decisions":{}}')));
    try {
      const runtime = { AWS_ACCESS_KEY_ID: "ASIAEDGEROLE", AWS_SECRET_ACCESS_KEY: "edge-role-secret", AWS_SESSION_TOKEN: "edge-role-session", AWS_REGION: "us-east-1" };
      const bundle = { EARNEST_BUNDLE_URL: `${seen.url}/edge/bundle.json`, EDGE_TOKEN_KEY: "edge:an-edge-token-secret-0001", BUNDLE_AUTH: "sigv4" };
      const handlers = makeHandlers({ ...config(), ...bundle, EARNEST_AUTH: "sigv4", EARNEST_DECIDE_URL: `${seen.url}/decide` }, runtime);
      await handlers.originRequest(viewerRequest({ cookie: GRANTED }));
      const fetched = seen.seen.find((r) => r.url === "/edge/bundle.json");
      assert.match(fetched.headers.authorization, /^AWS4-HMAC-SHA256 Credential=ASIAEDGEROLE\/\d{8}\/us-east-1\/s3\/aws4_request/);
      assert.equal(fetched.headers["x-amz-security-token"], "edge-role-session");
      assert.ok(seen.seen.some((r) => r.url === "/decide"), "no bundle published: /decide answers");
    } finally {
      await seen.close();
    }
  });

  test("a personalized response is private; without DECISIONS_SECRET the adapter refuses to start", async () => {
    const handlers = makeHandlers(config());
    const id = await variantVisitor();
    const decided = await handlers.originRequest(viewerRequest({ cookie: `${GRANTED}; earnest_aid=${id}` }));
    const response = await originResponse(handlers, decided, { "cdn-cache-control": [{ key: "CDN-Cache-Control", value: "max-age=600" }] });
    assert.equal(response.headers["cache-control"][0].value, "private, no-store");
    assert.equal(response.headers["cdn-cache-control"], undefined);
    assert.throws(() => makeHandlers({ ...config(), DECISIONS_SECRET: "" }), /DECISIONS_SECRET/);
  });
});
