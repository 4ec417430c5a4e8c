// decide through the worker over loopback: Miniflare serves the worker on a local port, the
// worker calls `earnest serve` (EARNEST_API) and a local origin; N page views one after
// another over a kept-alive connection. Prints one JSON line; bench/bench_edge.py runs it.

import { origin, worker } from "./test/harness.js";

const api = process.env.EARNEST_API;
const n = Number(process.argv[2] ?? 300);
const site = await origin();
const mf = worker({
  EARNEST_DECIDE_URL: `${api}/decide`,
  EARNEST_EVENTS_URL: `${api}/events`,
  ORIGIN_URL: site.url,
  DECISIONS_SECRET: "the-bench-origin-shares-this-decisions-secret", // the signed header, as deployed
  EARNEST_ROUTES: JSON.stringify({ "/": ["home-hero", "pdp-recs"] }),
});
const url = await mf.ready;
const headers = { "user-agent": "Mozilla/5.0 (iPhone; Mobile)", referer: "https://www.google.com/", cookie: "earnest_aid=bench-visitor-0001" };

async function view(path) {
  const started = performance.now();
  const response = await fetch(new URL(path, url), { headers });
  await response.text();
  return [performance.now() - started, response.status];
}

async function timed(path) {
  for (let i = 0; i < 30; i += 1) await view(path); // warm: rules loaded, connections open
  const times = [];
  for (let i = 0; i < n; i += 1) times.push((await view(path))[0]);
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)], p99: times[Math.min(n - 1, Math.floor(n * 0.99))] };
}

const decided = await timed("/");
const passthrough = await timed("/about"); // the same worker and origin, no decide
console.log(JSON.stringify({ n, decided, passthrough, decisions: site.seen.filter((s) => s.headers["x-earnest-decisions"]).length }));
await mf.dispose();
await site.close();
