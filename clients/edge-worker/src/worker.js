// Cloudflare Workers adapter: decide before the page, the decisions written into the page
// with HTMLRewriter, exposures posted in the background once the page has streamed, batched
// with the other page views the isolate serves meanwhile.

import {
  anonymousId,
  consentFrom,
  contextFor,
  decideBody,
  exposureBatch,
  identityFrom,
  makePrivate,
  mustBePrivate,
  pageDecisions,
  placementsFor,
  queueExposures,
  readConfig,
  relayBeacon,
  setCookie,
  signedDecisions,
  withoutEarnestHeaders,
} from "./core.js";
import { decideAtEdge } from "./engine/edge.js";

export default {
  async fetch(viewerRequest, env, ctx) {
    // Before anything else, on every path and method: the viewer's x-earnest-* headers go.
    const request = new Request(viewerRequest, { headers: withoutEarnestHeaders(viewerRequest.headers) });
    const config = readConfig(env);
    const url = new URL(request.url);
    if (request.method === "POST" && config.beaconPath && url.pathname === config.beaconPath) {
      const relayed = await relayBeacon(config, await request.text(), request.headers);
      return new Response(relayed.body, { status: relayed.status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
    }
    const placements = request.method === "GET" ? placementsFor(url.pathname, config.routes) : [];
    if (!placements.length) return keptPrivate(await fetch(originRequest(request, env)), config);

    const visitor = anonymousId(request.headers.get("cookie"));
    const consent = consentFrom(request.headers, config);
    const identity = await identityFrom(request.headers, config, visitor.id);
    const body = decideBody(visitor.id, placements, contextFor(request, request.cf?.country), consent, identity);
    const decisions = await decideAtEdge(env, config, body, consent.gpc === true, { waitUntil: (p) => ctx.waitUntil(p) });

    const upstream = originRequest(request, env);
    if (decisions) for (const [name, value] of Object.entries(await signedDecisions(config, decisions))) upstream.headers.set(name, value);
    const origin = await fetch(upstream);
    let response = new Response(origin.body, origin);
    if (visitor.isNew) response.headers.append("set-cookie", setCookie(visitor.id));
    if (mustBePrivate(decisions, response.headers)) makePrivate(response.headers, config);
    if (!decisions || !(response.headers.get("content-type") ?? "").includes("text/html")) return response;

    const shown = new Set();
    let finished;
    const streamed = new Promise((resolve) => (finished = resolve));
    response = render(decisions, pageDecisions(decisions, config), shown, finished).transform(response);
    ctx.waitUntil(streamed.then(() => queueExposures(config, exposureBatch(decisions, shown, consent))));
    return response;
  },
};

/** The origin's response to a page not decided for: out of shared caches when it sets a
 * cookie, otherwise cached as the origin said. */
function keptPrivate(response, config) {
  if (!mustBePrivate(null, response.headers)) return response;
  const mine = new Response(response.body, response);
  makePrivate(mine.headers, config);
  return mine;
}

/** The request to the origin: ORIGIN_URL when the worker fronts another host (and in
 * tests), else the request as it came (a worker on the site's own route). */
function originRequest(request, env) {
  if (!env.ORIGIN_URL) return new Request(request);
  const url = new URL(request.url);
  return new Request(new URL(url.pathname + url.search, env.ORIGIN_URL), request);
}

/** The decisions as a JSON script element in <head> (only what the page renders, and the
 * tokens), and each `data-earnest-placement` slot filled: its `data-earnest-field` children
 * get the variant's content as text. */
function render(decisions, forPage, shown, finished) {
  const json = JSON.stringify(forPage).replace(/</g, "\\u003c");
  let rewriter = new HTMLRewriter()
    .on("head", {
      element(head) {
        head.append(`<script type="application/json" id="earnest-decisions">${json}</script>`, { html: true });
      },
    })
    .onDocument({ end: () => finished() });
  for (const [placement, d] of Object.entries(decisions)) {
    const slot = `[data-earnest-placement="${placement}"]`;
    rewriter = rewriter.on(slot, {
      element(element) {
        shown.add(placement);
        element.setAttribute("data-earnest-reason", d.reason ?? "");
        if (d.experience) element.setAttribute("data-earnest-experience", d.experience);
        if (d.variant) element.setAttribute("data-earnest-variant", d.variant);
      },
    });
    if (!d.variant || !d.content) continue; // the page's own markup is the default
    rewriter = rewriter.on(`${slot} [data-earnest-field]`, {
      element(element) {
        const value = d.content[element.getAttribute("data-earnest-field")];
        if (value !== undefined && value !== null) element.setInnerContent(String(value));
      },
    });
  }
  return rewriter;
}
