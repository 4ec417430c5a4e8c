// CloudFront (Lambda@Edge) adapter over the same core. Lambda@Edge cannot rewrite the
// origin's body, so the origin renders the slots from the signed decisions header:
// - origin-request: drop the viewer's x-earnest-* headers; relay a page's beacon (POST to
//   BEACON_PATH) to /events with the edge's authentication; else decide within the budget,
//   forward the decisions signed, post exposures for every placement decided (the origin
//   renders them all), waited for at most the budget;
// - origin-response: set the anonymous-id cookie origin-request made (handed over signed,
//   so no viewer can name one), and keep personalized pages out of shared caches.
// Lambda@Edge has no environment variables: the bindings are bundled as config.json; the
// SigV4 credentials are the function's own role's, from the runtime.

import {
  CDN_CACHE_HEADERS,
  DECISIONS_HEADER,
  EARNEST_PREFIX,
  anonymousId,
  consentFrom,
  contextFor,
  decideBody,
  exposureBatch,
  identityFrom,
  placementsFor,
  postExposures,
  readConfig,
  relayBeacon,
  setCookie,
  signature,
  signedByEdge,
  signedDecisions,
  withinBudget,
} from "./core.js";
import { decideAtEdge } from "./engine/edge.js";
import { fromBase64url } from "./hmac.js";

export const NEW_ID = "x-earnest-new-anonymous-id";
const HANDOFF_MAX_AGE_SECONDS = 120; // origin-request to origin-response: the origin's time
const RUNTIME_CREDENTIALS = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"];

export function makeHandlers(env, runtime = globalThis.process?.env ?? {}) {
  const bindings = { ...env };
  for (const name of RUNTIME_CREDENTIALS) bindings[name] ??= runtime[name];
  const config = readConfig(bindings);
  // The origin renders from the decisions header alone here: unsigned, it could not tell
  // them from a visitor's; and the anonymous-id handoff is signed with the same secret.
  if (!config.decisionsKey) throw new Error("binding DECISIONS_SECRET is not set (the CloudFront adapter signs what the origin renders)");
  return {
    async originRequest(event) {
      const request = event.Records[0].cf.request;
      // Before anything else, on every path and method: the viewer's x-earnest-* headers go.
      for (const name of Object.keys(request.headers)) if (name.startsWith(EARNEST_PREFIX)) delete request.headers[name];
      const headers = new Headers();
      for (const [name, values] of Object.entries(request.headers)) headers.set(name, values[0].value);
      if (request.method === "POST" && config.beaconPath && request.uri === config.beaconPath) return relay(config, request, headers);
      const placements = request.method === "GET" ? placementsFor(request.uri, config.routes) : [];
      if (!placements.length) return request;
      const visitor = anonymousId(headers.get("cookie"));
      if (visitor.isNew) setHeader(request.headers, NEW_ID, `${visitor.id} ${await signature(config, handoff(visitor.id))}`);
      const consent = consentFrom(headers, config);
      const host = headers.get("host") ?? "localhost";
      const asFetch = new Request(`https://${host}${request.uri}`, { headers });
      const country = headers.get("cloudfront-viewer-country") ?? undefined;
      const identity = await identityFrom(headers, config, visitor.id);
      const body = decideBody(visitor.id, placements, contextFor(asFetch, country), consent, identity);
      const decisions = await decideAtEdge(bindings, config, body, consent.gpc === true);
      if (!decisions) return request;
      for (const [name, value] of Object.entries(await signedDecisions(config, decisions))) setHeader(request.headers, name, value);
      // No waitUntil here: the post may hold the request for at most the budget again.
      const posted = postExposures(config, exposureBatch(decisions, placements, consent), `edge-${crypto.randomUUID()}`);
      await withinBudget(config, posted);
      return request;
    },
    async originResponse(event) {
      const { request, response } = event.Records[0].cf;
      const id = await handedOver(config, request.headers[NEW_ID]?.[0]?.value);
      if (id) (response.headers["set-cookie"] ??= []).push({ key: "Set-Cookie", value: setCookie(id) });
      if (request.headers[DECISIONS_HEADER] || response.headers["set-cookie"]?.length) {
        setHeader(response.headers, "cache-control", config.cacheControl);
        for (const name of CDN_CACHE_HEADERS) delete response.headers[name];
      }
      return response;
    },
  };
}

/** A page's beacon, relayed to /events and answered from here (the behaviour's origin-request
 * association has IncludeBody, so the body is in the event, base64 as CloudFront sends it). */
async function relay(config, request, headers) {
  const { data = "", encoding, inputTruncated } = request.body ?? {};
  const body = encoding === "base64" ? new TextDecoder().decode(fromBase64url(data)) : data;
  const relayed = inputTruncated ? { status: 413, body: '{"error":{"code":"payload_too_large","field":"body"}}' } : await relayBeacon(config, body, headers);
  const response = { status: String(relayed.status), headers: {}, body: relayed.body };
  setHeader(response.headers, "content-type", "application/json");
  setHeader(response.headers, "cache-control", "no-store");
  return response;
}

function setHeader(headers, name, value) {
  headers[name] = [{ key: name, value }];
}

function handoff(id) {
  return `anonymous-id.${id}`;
}

/** The anonymous id origin-request made, if this handoff is its own and recent. */
async function handedOver(config, value) {
  const [id, sig] = (value ?? "").split(" ");
  if (!id || !/^[0-9a-f-]{36}$/.test(id)) return null;
  return (await signedByEdge(config, handoff(id), sig, HANDOFF_MAX_AGE_SECONDS)) ? id : null;
}
