// The worker under Miniflare on a local port, fronting a small demo shop page, against
// `earnest serve` at EARNEST_API. Prints "worker URL" once ready; stops on SIGTERM.
// `earnest demo` runs it; so can you: EARNEST_API=http://127.0.0.1:8787 node serve.mjs

import { server, worker } from "./test/harness.js";

const SHOP = `<!doctype html><html><head><title>shop</title></head><body>
<section data-earnest-placement="home-hero"><h1 data-earnest-field="headline">New season, new trails</h1></section>
<aside data-earnest-placement="pdp-recs"><p data-earnest-field="strategy">editorial</p></aside>
</body></html>`;

const api = process.env.EARNEST_API ?? "http://127.0.0.1:8787";
const site = await server((req, res) => res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(SHOP));
const mf = worker({
  EARNEST_DECIDE_URL: `${api}/decide`,
  EARNEST_EVENTS_URL: `${api}/events`,
  ORIGIN_URL: site.url,
  DECIDE_TIMEOUT_MS: process.env.DECIDE_TIMEOUT_MS ?? "50",
  EARNEST_ROUTES: JSON.stringify({ "/": ["home-hero"], "/products/*": ["pdp-recs", "home-hero"] }),
});
const url = await mf.ready;
console.log(`worker ${url.origin}`);
process.on("SIGTERM", async () => {
  await mf.dispose();
  await site.close();
  process.exit(0);
});
