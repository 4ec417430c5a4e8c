// The worker under Miniflare on a local port, fronting a small demo shop page, against
// `earnest serve` at EARNEST_API. Prints "worker URL relay URL" once ready; stops on SIGTERM
// or at the end of its stdin.
// `earnest demo` runs it; so can you: EARNEST_API=http://127.0.0.1:8787 node serve.mjs
//
// The worker posts its exposures through a relay to `${EARNEST_API}/events`, so that a
// simulation can date them on the day it simulates: after `POST /clock {"now": MS}` every
// event's `ts` is moved as if this process's clock had read MS then (the simulation's clock
// may differ from the worker's), and `GET /clock` reads the worker's own clock (for the
// identity cookies' `exp`); `GET /stats` counts the batches and events relayed and the
// events /events stored, so the simulation knows when the worker's background posts are in,
// and the pages served and the worker's calls to /decide (also relayed): the pages that
// needed the hop. With EARNEST_BUNDLE_URL and EDGE_TOKEN_KEY the worker decides at the edge.

import { server, worker } from "./test/harness.js";

const SHOP = `<!doctype html><html><head><title>shop</title></head><body>
<section data-earnest-placement="home-hero"><h1 data-earnest-field="headline">New season, new trails</h1></section>
<aside data-earnest-placement="pdp-recs"><p data-earnest-field="strategy">editorial</p></aside>
<div data-earnest-placement="account-banner"><p data-earnest-field="message">Your account</p></div>
</body></html>`;

const api = process.env.EARNEST_API ?? "http://127.0.0.1:8787";
const stats = { batches: 0, events: 0, stored: 0, refused: 0, pages: 0, hops: 0, hopped: 0 };
let shiftMs = 0;

async function relay(req, res, body) {
  if (req.method === "GET" && req.url === "/stats") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stats));
  if (req.method === "GET" && req.url === "/clock") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ now: Date.now() }));
  if (req.method === "POST" && req.url === "/clock") {
    shiftMs = Date.now() - Number(JSON.parse(body).now);
    return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ shift_ms: shiftMs }));
  }
  if (req.method === "POST" && req.url === "/decide") return hop(req, res, body);
  const batch = JSON.parse(body);
  for (const event of batch.events ?? []) event.ts -= shiftMs;
  const headers = { "content-type": "application/json" };
  if (req.headers["idempotency-key"]) headers["idempotency-key"] = req.headers["idempotency-key"];
  const answer = await fetch(`${api}/events`, { method: "POST", headers, body: JSON.stringify(batch) });
  const text = await answer.text();
  if (answer.status === 202) stats.stored += JSON.parse(text).stored ?? 0;
  else stats.refused += 1;
  stats.batches += 1;
  stats.events += batch.events?.length ?? 0;
  res.writeHead(answer.status, { "content-type": "application/json" }).end(text);
}

/** The worker's calls to /decide, counted: the pages that needed the hop. */
async function hop(req, res, body) {
  stats.hops += 1;
  stats.hopped += JSON.parse(body).placements?.length ?? 0; // the placements the edge left to decide
  const headers = { "content-type": "application/json", ...(req.headers["sec-gpc"] ? { "sec-gpc": "1" } : {}) };
  const answer = await fetch(`${api}/decide`, { method: "POST", headers, body });
  res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
}

const site = await server((req, res) => {
  stats.pages += 1;
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(SHOP);
});
const events = await server((req, res, body) => relay(req, res, body).catch((error) => res.writeHead(502).end(String(error))));
const mf = worker({
  EARNEST_DECIDE_URL: `${events.url}/decide`,
  EARNEST_EVENTS_URL: `${events.url}/events`,
  // Decisions at the edge, from the bundle the stack publishes to its S3 (when given).
  EARNEST_BUNDLE_URL: process.env.EARNEST_BUNDLE_URL ?? "",
  EDGE_TOKEN_KEY: process.env.EDGE_TOKEN_KEY ?? "",
  BUNDLE_MAX_AGE_S: process.env.BUNDLE_MAX_AGE_S ?? "60",
  BUNDLE_AUTH: "sigv4",
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? "",
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? "",
  AWS_SESSION_TOKEN: process.env.AWS_SESSION_TOKEN ?? "",
  ORIGIN_URL: site.url,
  DECIDE_TIMEOUT_MS: process.env.DECIDE_TIMEOUT_MS ?? "50",
  CONSENT_COOKIE: process.env.CONSENT_COOKIE ?? "",
  IDENTITY_SECRET: process.env.IDENTITY_SECRET ?? "",
  EARNEST_ROUTES: JSON.stringify({ "/": ["home-hero"], "/products/*": ["pdp-recs", "home-hero", "account-banner"] }),
});
const url = await mf.ready;
console.log(`worker ${url.origin} relay ${events.url}`);
async function stop() {
  await mf.dispose();
  await Promise.all([site.close(), events.close()]);
  process.exit(0);
}
process.on("SIGTERM", stop);
process.stdin.on("end", stop); // the parent (earnest demo) is gone, however it ended
process.stdin.resume();
