// CloudFront (Lambda@Edge) adapter over the same core. Lambda@Edge cannot rewrite the
// origin's body, so the origin renders the slots from the decisions header:
// - origin-request: decide within the budget, forward the decisions, post exposures for
//   every placement decided (the origin renders them all), waited for at most the budget;
// - origin-response: set the anonymous-id cookie when the request had none.
// Lambda@Edge has no environment variables: the bindings are bundled as config.json.

import {
  DECISIONS_HEADER,
  anonymousId,
  consentFrom,
  contextFor,
  decideBody,
  decisionsHeader,
  exposureBatch,
  identityFrom,
  placementsFor,
  postExposures,
  readConfig,
  setCookie,
} from "./core.js";
import { decideAtEdge } from "./engine/edge.js";

const NEW_ID = "x-earnest-new-anonymous-id";

export function makeHandlers(env) {
  const config = readConfig(env);
  return {
    async originRequest(event) {
      const request = event.Records[0].cf.request;
      const headers = new Headers();
      for (const [name, values] of Object.entries(request.headers)) headers.set(name, values[0].value);
      const placements = request.method === "GET" ? placementsFor(request.uri, config.routes) : [];
      if (!placements.length) return request;
      const visitor = anonymousId(headers.get("cookie"));
      if (visitor.isNew) request.headers[NEW_ID] = [{ key: NEW_ID, value: visitor.id }];
      const consent = consentFrom(headers, config);
      const host = headers.get("host") ?? "localhost";
      const asFetch = new Request(`https://${host}${request.uri}`, { headers });
      const country = headers.get("cloudfront-viewer-country") ?? undefined;
      const identity = await identityFrom(headers, config);
      const body = decideBody(visitor.id, placements, contextFor(asFetch, country), consent, identity);
      const decisions = await decideAtEdge(env, config, body, consent.gpc === true);
      if (!decisions) return request;
      request.headers[DECISIONS_HEADER] = [{ key: DECISIONS_HEADER, value: decisionsHeader(decisions) }];
      // No waitUntil here: the post may hold the request for at most the budget again.
      const posted = postExposures(config, exposureBatch(decisions, placements, consent), `edge-${crypto.randomUUID()}`);
      await Promise.race([posted, new Promise((done) => setTimeout(done, config.budgetMs))]);
      return request;
    },
    async originResponse(event) {
      const { request, response } = event.Records[0].cf;
      const id = request.headers[NEW_ID]?.[0]?.value;
      if (id) (response.headers["set-cookie"] ??= []).push({ key: "Set-Cookie", value: setCookie(id) });
      return response;
    },
  };
}
