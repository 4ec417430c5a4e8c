// Pages through the worker over loopback, decided at the edge and through /decide, in one
// interleaved run: Miniflare serves two workers on local ports in front of one origin, both
// against `earnest serve` (EARNEST_API); `local` holds the rules bundle the stack publishes
// (EARNEST_BUNDLE_URL) and the edge's token key, `remote` has neither, so it asks /decide on
// every page. The visitor is a mobile one from a search engine who declined personalization
// (so home-hero's consent-gated candidate is settled at the edge, and the contextual ones
// decide); `/about` has no placements. Then the engine alone in this process: the same
// request decided N times. Prints one JSON line; bench/bench_edge.py runs it.

import { readFileSync } from "node:fs";
import { compileBundle, decideLocally } from "./src/engine/decide.js";
import { tokenSigner } from "./src/engine/tokens.js";
import { origin, server, worker } from "./test/harness.js";

const api = process.env.EARNEST_API;
const n = Number(process.argv[2] ?? 300);
const site = await origin();
const common = {
  EARNEST_DECIDE_URL: `${api}/decide`,
  EARNEST_EVENTS_URL: `${api}/events`,
  ORIGIN_URL: site.url,
  DECISIONS_SECRET: "the-bench-origin-shares-this-decisions-secret", // the signed header, as deployed
  CONSENT_COOKIE: "site_consent",
  EARNEST_ROUTES: JSON.stringify({ "/": ["home-hero", "pdp-recs"] }),
};
const edge = {
  EARNEST_BUNDLE_URL: process.env.EARNEST_BUNDLE_URL,
  EDGE_TOKEN_KEY: process.env.EDGE_TOKEN_KEY,
  BUNDLE_AUTH: "sigv4",
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_SESSION_TOKEN: "testing",
};
// The local worker's /decide through a counter: a page decided at the edge makes no call.
const counted = await server(async (req, res, body) => {
  const answer = await fetch(`${api}/decide`, { method: "POST", headers: { "content-type": "application/json" }, body });
  res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
});
const local = worker({ ...common, ...edge, EARNEST_DECIDE_URL: `${counted.url}/decide` });
const remote = worker(common);
const urls = { local: await local.ready, remote: await remote.ready };
const declined = encodeURIComponent(JSON.stringify({ personalization: "denied", measurement: "granted" }));
const headers = {
  "user-agent": "Mozilla/5.0 (iPhone; Mobile)",
  referer: "https://www.google.com/",
  cookie: `earnest_aid=bench-visitor-0001; site_consent=${declined}`,
};

async function view(which, path) {
  const started = performance.now();
  const response = await fetch(new URL(path, urls[which]), { headers });
  await response.text();
  if (response.status !== 200) throw new Error(`${which} ${path}: ${response.status}`);
  return performance.now() - started;
}

function summary(times) {
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] };
}

for (let i = 0; i < 30; i += 1) for (const which of ["local", "remote"]) await view(which, "/"); // warm: bundle and rules loaded, connections open
const seenBefore = site.seen.length;
const hopsBefore = counted.seen.length;
const times = { local: [], remote: [], passthrough: [] };
for (let i = 0; i < n; i += 1) {
  times.local.push(await view("local", "/"));
  times.remote.push(await view("remote", "/"));
  times.passthrough.push(await view("local", "/about"));
}
const decisions = site.seen.slice(seenBefore).filter((s) => s.headers["x-earnest-decisions"]).length;
const hops = counted.seen.length - hopsBefore;

// The engine alone: the page's request, decided (and its tokens signed) N times.
const bundle = compileBundle(JSON.parse(readFileSync(process.env.BUNDLE_FILE, "utf8")));
const signer = tokenSigner(process.env.EDGE_TOKEN_KEY);
const body = {
  visitor: { anonymous_id: "bench-visitor-0001" },
  placements: ["home-hero", "pdp-recs"],
  context: { url: "https://shop.example/", device: "mobile", country: "DE", referrer: "google" },
  consent: { purposes: { personalization: "denied", measurement: "granted" } },
};
const engine = [];
let remoteLeft = 0;
for (let i = 0; i < n * 10; i += 1) {
  const started = performance.now();
  const { remote: left } = await decideLocally(bundle, { ...body, visitor: { anonymous_id: `bench-${i}` } }, { signer });
  engine.push(performance.now() - started);
  remoteLeft += left.length;
}

console.log(JSON.stringify({
  n,
  local: summary(times.local),
  remote: summary(times.remote),
  passthrough: summary(times.passthrough),
  engine: summary(engine),
  engine_remote_placements: remoteLeft,
  decisions,
  hops,
}));
await Promise.all([local.dispose(), remote.dispose()]);
await Promise.all([site.close(), counted.close()]);
