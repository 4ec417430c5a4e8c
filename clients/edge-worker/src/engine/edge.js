// Local decisions in the adapters: the rules bundle held per isolate, kept within its age
// bound, and `decideAtEdge` in place of a call to /decide: the edge first, /decide only for
// the placements the edge cannot settle, the default page with neither.
//
// Bindings (all optional; without EARNEST_BUNDLE_URL and EDGE_TOKEN_KEY every page asks /decide):
//   EARNEST_BUNDLE_URL  the published bundle (S3: s3://-style https URL of edge/bundle.json)
//   EDGE_TOKEN_KEY      `kid:secret`, one of EXPOSURE_TOKEN_KEYS (a secret, not a var)
//   BUNDLE_MAX_AGE_S    how old the edge's knowledge of the bundle may be (default 60): a copy
//                       the worker has not confirmed current (200 or 304) within it is not
//                       decided from; it is revalidated with If-None-Match from half of it
//   BUNDLE_AUTH         "sigv4" signs the fetch for S3 with the AWS_* credentials; else none

import { awsClient, decide, withinBudget } from "../core.js";
import { compileBundle, decideLocally } from "./decide.js";
import { tokenSigner } from "./tokens.js";

const states = new WeakMap();
const FETCH_TIMEOUT_MS = 2000;
const RETRY_MS = 5000;

/** The isolate's bundle state for these bindings (made once per `env`; `config` is
 * readConfig(env)). */
export function edgeState(env, config) {
  let state = states.get(env);
  if (!state) {
    state = makeState(env, config);
    states.set(env, state);
  }
  return state;
}

function makeState(env, config) {
  const enabled = Boolean(env.EARNEST_BUNDLE_URL && env.EDGE_TOKEN_KEY);
  const maxAgeS = Number(env.BUNDLE_MAX_AGE_S ?? 60);
  if (!(maxAgeS > 0)) throw new Error("BUNDLE_MAX_AGE_S must be a number of seconds > 0");
  return {
    enabled,
    url: env.EARNEST_BUNDLE_URL,
    maxAgeMs: maxAgeS * 1000,
    signer: enabled ? tokenSigner(env.EDGE_TOKEN_KEY) : null,
    aws: env.BUNDLE_AUTH === "sigv4" && config.aws.accessKeyId ? awsClient(config, "s3") : null,
    engine: null, // the compiled bundle, or null (none fetched, or none published)
    etag: null,
    confirmedAt: null, // when the source last said this copy is current
    retryAt: 0,
    inflight: null,
  };
}

/** The compiled bundle if the edge may decide from it now, else null. */
export function usableEngine(state, now = Date.now()) {
  if (!state.engine || state.confirmedAt === null) return null;
  return now - state.confirmedAt <= state.maxAgeMs ? state.engine : null;
}

/** Fetch or revalidate the bundle when it is due (from half its age bound, or after a failed
 * fetch's back-off); the promise settles once done (null when nothing was due). */
export function refreshBundle(state, fetchImpl = fetch, now = Date.now()) {
  if (state.inflight) return state.inflight;
  const due = state.confirmedAt === null || now - state.confirmedAt >= state.maxAgeMs / 2;
  if (!due || now < state.retryAt) return null;
  state.inflight = load(state, fetchImpl, now).finally(() => (state.inflight = null));
  return state.inflight;
}

async function load(state, fetchImpl, startedAt) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
  try {
    const headers = state.etag ? { "if-none-match": state.etag } : {};
    const request = state.aws ? await state.aws.sign(state.url, { method: "GET", headers }) : new Request(state.url, { headers });
    const response = await fetchImpl(request, { signal: controller.signal });
    if (response.status === 304) {
      state.confirmedAt = startedAt;
    } else if (response.status === 200) {
      const engine = compileBundle(await response.json());
      state.engine = engine;
      state.etag = response.headers.get("etag");
      state.confirmedAt = startedAt;
    } else if (response.status === 404) {
      state.engine = null; // nothing published: every page asks /decide
      state.etag = null;
      state.confirmedAt = startedAt;
    } else {
      await response.body?.cancel();
      state.retryAt = startedAt + RETRY_MS;
    }
  } catch {
    state.retryAt = startedAt + RETRY_MS; // the copy held ages; past the bound, /decide
  } finally {
    clearTimeout(timer);
  }
}

/** The decisions for decide's request `body`: made here where the bundle settles them, the
 * rest from /decide (only those placements), and what /decide could not answer left out (the
 * page's default). null when no placement was decided. `waitUntil` (Cloudflare's
 * ctx.waitUntil) refreshes the bundle in the background; without it (Lambda@Edge, whose
 * work stops with the response) a due refresh is awaited, within decide's budget. */
export async function decideAtEdge(env, config, body, gpc, { waitUntil = null, fetchImpl = fetch } = {}) {
  const state = edgeState(env, config);
  if (!state.enabled) return decide(config, body, gpc, fetchImpl);
  const refreshing = refreshBundle(state, fetchImpl);
  if (refreshing && waitUntil) waitUntil(refreshing);
  else if (refreshing) await withinBudget(config, refreshing);
  const engine = usableEngine(state);
  if (!engine) return decide(config, body, gpc, fetchImpl);
  const { decisions, remote } = await decideLocally(engine, body, { gpc, signer: state.signer });
  if (!remote.length) return decisions;
  const answered = (await decide(config, { ...body, placements: remote }, gpc, fetchImpl)) ?? {};
  const merged = {};
  for (const placement of body.placements) {
    const d = decisions[placement] ?? answered[placement];
    if (d) merged[placement] = d;
  }
  return Object.keys(merged).length ? merged : null;
}
