// Earnest's edge core: what every edge adapter shares (Cloudflare Workers, CloudFront).
// No platform API here beyond the web APIs both have (fetch, Request, Headers, URL,
// WebCrypto, timers).

import { AwsClient } from "aws4fetch";
import { fromBase64url, hmacKey, toBase64url } from "./hmac.js";

export const COOKIE = "earnest_aid";
export const DECISIONS_HEADER = "x-earnest-decisions";
export const SIGNATURE_HEADER = "x-earnest-signature";
export const IDENTITY_COOKIE = "earnest_identity";
/** Every request header under this prefix is the edge's to set: a viewer's are dropped. */
export const EARNEST_PREFIX = "x-earnest-";
export const MIN_SECRET_BYTES = 32;
export const IDENTITY_MAX_DAYS = 30; // how far ahead an identity cookie's `exp` may lie
const YEAR_SECONDS = 365 * 24 * 3600;
const ID = /^[A-Za-z0-9_-]{8,64}$/;
// What the page may see of a decision: what it renders and the token its exposure carries.
// The trace (the experiences that lost, and why) only with EARNEST_DEBUG.
const PAGE_FIELDS = ["experience", "variant", "reason", "content", "token"];
// Headers by which an origin tells a CDN to cache regardless of Cache-Control.
export const CDN_CACHE_HEADERS = ["cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control", "expires"];

const configs = new WeakMap();

/** The bindings, parsed once per isolate (the same `env` object serves every request):
 * every knob has a default but the two URLs. */
export function readConfig(env) {
  let config = configs.get(env);
  if (!config) {
    config = parseConfig(env);
    configs.set(env, config);
  }
  return config;
}

function parseConfig(env) {
  const routes = typeof env.EARNEST_ROUTES === "string" ? JSON.parse(env.EARNEST_ROUTES) : env.EARNEST_ROUTES;
  const decisionsSecrets = secretsOf(env, "DECISIONS_SECRET");
  return {
    decideUrl: required(env, "EARNEST_DECIDE_URL"),
    eventsUrl: required(env, "EARNEST_EVENTS_URL"),
    budgetMs: Number(env.DECIDE_TIMEOUT_MS ?? 50),
    batchMs: Number(env.EXPOSURE_BATCH_MS ?? 1000),
    batches: new Map(), // consent (JSON) -> the batch still open for it
    routes: Object.entries(routes ?? {}),
    consentCookie: env.CONSENT_COOKIE ?? "",
    identityCookie: env.IDENTITY_COOKIE || IDENTITY_COOKIE,
    identityKeys: Promise.all(secretsOf(env, "IDENTITY_SECRET").map(hmacKey)),
    // The origin's shared secret: the first signs the decisions header (the origin verifies
    // with every one it holds, so a rotation has no gap). None: no decisions header at all.
    decisionsKey: decisionsSecrets.length ? hmacKey(decisionsSecrets[0]) : null,
    cacheControl: personalizedCacheControl(env.PERSONALIZED_MAX_AGE),
    debug: env.EARNEST_DEBUG === "1" || env.EARNEST_DEBUG === "true",
    // The site's own path for the page's beacons, relayed to /events with the edge's
    // authentication (sendBeacon cannot add it); empty: no relay.
    beaconPath: env.BEACON_PATH ?? "/earnest/events",
    auth: env.EARNEST_AUTH ?? "none",
    authHeader: env.EARNEST_AUTH_HEADER ?? "x-earnest-edge-secret",
    authSecret: env.EARNEST_AUTH_SECRET ?? "",
    aws: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN,
      region: env.AWS_REGION ?? "us-east-1",
    },
    awsClients: new Map(), // service -> its SigV4 signer (each caches its signing keys)
  };
}

function required(env, name) {
  if (!env[name]) throw new Error(`binding ${name} is not set`);
  return env[name];
}

/** A binding's secrets, comma-separated: each at least MIN_SECRET_BYTES long, or the worker
 * refuses to start with an error naming the binding (a short secret can be guessed). */
export function secretsOf(env, name) {
  const secrets = String(env[name] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (secrets.some((s) => new TextEncoder().encode(s).length < MIN_SECRET_BYTES)) {
    throw new Error(`binding ${name}: each secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return secrets;
}

/** What a page that carries personalization or sets a cookie is sent with: never stored by a
 * shared cache; PERSONALIZED_MAX_AGE > 0 lets the visitor's own browser keep it that long. */
function personalizedCacheControl(maxAge) {
  const seconds = Number(maxAge ?? 0);
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error("binding PERSONALIZED_MAX_AGE: a whole number of seconds");
  return seconds > 0 ? `private, max-age=${seconds}` : "private, no-store";
}

/** The viewer's request headers without any `x-earnest-*`: only the edge sets those (the
 * decisions, their signature, the anonymous-id handoff), so nothing a visitor sends steers it. */
export function withoutEarnestHeaders(headers) {
  const kept = new Headers(headers);
  for (const name of [...kept.keys()]) if (name.startsWith(EARNEST_PREFIX)) kept.delete(name);
  return kept;
}

/** Whether a response must stay out of shared caches: it carries personalization (decisions
 * were made for this visitor) or sets a cookie. */
export function mustBePrivate(decisions, headers) {
  return Boolean(decisions) || headers.has("set-cookie");
}

/** Mark the response's headers private (PERSONALIZED_MAX_AGE), dropping the CDN-only caching
 * headers that would outrank Cache-Control at a CDN. */
export function makePrivate(headers, config) {
  headers.set("cache-control", config.cacheControl);
  for (const name of CDN_CACHE_HEADERS) headers.delete(name);
}

/** The placements a path shows: the first route whose pattern matches (`*` at the end: a prefix). */
export function placementsFor(pathname, routes) {
  for (const [pattern, placements] of routes) {
    const hit = pattern.endsWith("*") ? pathname.startsWith(pattern.slice(0, -1)) : pathname === pattern;
    if (hit) return placements;
  }
  return [];
}

export function cookies(header) {
  const out = {};
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0) out[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return out;
}

/** The visitor's first-party anonymous id, and whether it was made now (then set the cookie). */
export function anonymousId(cookieHeader) {
  const existing = cookies(cookieHeader)[COOKIE];
  if (existing && ID.test(existing)) return { id: existing, isNew: false };
  return { id: crypto.randomUUID(), isNew: true };
}

export function setCookie(id) {
  return `${COOKIE}=${id}; Max-Age=${YEAR_SECONDS}; Path=/; HttpOnly; Secure; SameSite=Lax`;
}

/** What the browser and the CMP say, as decide's `consent`: Sec-GPC, then the TCF string in
 * `euconsent-v2`, or the site's own cookie (JSON purposes) named by CONSENT_COOKIE. */
export function consentFrom(headers, config) {
  const consent = {};
  if (headers.get("sec-gpc") === "1") consent.gpc = true;
  const jar = cookies(headers.get("cookie"));
  let purposes = null;
  if (config.consentCookie && jar[config.consentCookie]) {
    purposes = siteConsent(jar[config.consentCookie]);
  } else if (jar["euconsent-v2"]) {
    purposes = tcfPurposes(jar["euconsent-v2"]);
  }
  if (purposes) consent.purposes = purposes;
  return consent;
}

function siteConsent(raw) {
  try {
    const parsed = JSON.parse(decodeURIComponent(raw));
    const out = {};
    for (const purpose of ["personalization", "measurement"]) {
      if (parsed[purpose] === "granted" || parsed[purpose] === "denied") out[purpose] = parsed[purpose];
    }
    return Object.keys(out).length ? out : null;
  } catch {
    return null; // unreadable: say nothing, decide applies the regime
  }
}

// TCF v2 core segment: the purpose consents are bits 152-175, legitimate interests 176-199.
const PURPOSE_CONSENTS = 152;
const PURPOSE_LI = 176;

/** The TC string's purposes as Earnest maps them (docs/consent.md): personalization needs
 * consent to purposes 1, 5 and 6; measurement consent or legitimate interest for 8. */
export function tcfPurposes(tcString) {
  const core = tcString.split(".")[0];
  let bits;
  try {
    bits = Array.from(fromBase64url(core), (b) => b.toString(2).padStart(8, "0")).join("");
  } catch {
    return null;
  }
  if (bits.length < PURPOSE_LI + 24 || parseInt(bits.slice(0, 6), 2) !== 2) return null; // v1 or junk
  const consent = (n) => bits[PURPOSE_CONSENTS + n - 1] === "1";
  const li = (n) => bits[PURPOSE_LI + n - 1] === "1";
  return {
    personalization: consent(1) && consent(5) && consent(6) ? "granted" : "denied",
    measurement: consent(8) || li(8) ? "granted" : "denied",
  };
}

/** HMAC-SHA256 of `t.<value>` under DECISIONS_SECRET, as the signature header carries it:
 * `t=<unix seconds>,v1=<base64url>` (clients/origin/ verifies it). */
export async function signature(config, value, now = Date.now()) {
  const t = Math.floor(now / 1000);
  const mac = await crypto.subtle.sign("HMAC", await config.decisionsKey, new TextEncoder().encode(`${t}.${value}`));
  return `t=${t},v1=${toBase64url(mac)}`;
}

/** Whether `sig` is this edge's signature of `value`, made at most `maxAgeSeconds` ago. */
export async function signedByEdge(config, value, sig, maxAgeSeconds, now = Date.now()) {
  const match = /^t=(\d{1,12}),v1=([A-Za-z0-9_-]{43})$/.exec(sig ?? "");
  if (!match || !config.decisionsKey) return false;
  const age = now / 1000 - Number(match[1]);
  if (age > maxAgeSeconds || age < -60) return false;
  const signed = new TextEncoder().encode(`${match[1]}.${value}`);
  return crypto.subtle.verify("HMAC", await config.decisionsKey, fromBase64url(match[2]), signed);
}

/** The signed-in visitor the site vouches for: the cookie IDENTITY_COOKIE holding
 * `v1.<payload>.<sig>` (base64url), the payload JSON `{user_id, identity_confidence,
 * attributes, anonymous_id, exp}`, the signature HMAC-SHA256 over `v1.<payload>` with
 * IDENTITY_SECRET. The browser can edit any cookie and copy one, so an unsigned, forged or
 * expired one, one with no `exp` or an `exp` more than IDENTITY_MAX_DAYS ahead, and one made
 * for another anonymous id than this visitor's are all ignored (null): the visitor is
 * anonymous. Without IDENTITY_SECRET no identity is read at all. */
export async function identityFrom(headers, config, visitorId, now = Date.now()) {
  const keys = await config.identityKeys;
  const raw = keys.length ? cookies(headers.get("cookie"))[config.identityCookie] : undefined;
  const parts = (raw ?? "").split(".");
  if (parts.length !== 3 || parts[0] !== "v1") return null;
  let signature, payload;
  try {
    signature = fromBase64url(parts[2]);
    payload = JSON.parse(new TextDecoder().decode(fromBase64url(parts[1])));
  } catch {
    return null;
  }
  const signed = new TextEncoder().encode(`v1.${parts[1]}`);
  for (const key of keys) {
    if (await crypto.subtle.verify("HMAC", key, signature, signed)) return vouched(payload, visitorId, now);
  }
  return null;
}

function vouched(payload, visitorId, now) {
  if (typeof payload?.user_id !== "string" || !payload.user_id) return null;
  if (typeof payload.anonymous_id !== "string" || payload.anonymous_id !== visitorId) return null;
  if (typeof payload.exp !== "number" || payload.exp * 1000 <= now) return null;
  if (payload.exp * 1000 > now + IDENTITY_MAX_DAYS * 86_400_000) return null;
  const identity = { user_id: payload.user_id };
  if (typeof payload.identity_confidence === "number") identity.identity_confidence = payload.identity_confidence;
  if (payload.attributes && typeof payload.attributes === "object") identity.attributes = payload.attributes;
  return identity;
}

/** Context decide's audiences read: country (the CDN's), device, referrer, url. */
export function contextFor(request, country) {
  const url = new URL(request.url);
  const context = { url: url.href, device: /Mobi|Android/i.test(request.headers.get("user-agent") ?? "") ? "mobile" : "desktop" };
  if (country) context.country = country;
  const referrer = request.headers.get("referer");
  if (referrer) {
    try {
      const host = new URL(referrer).hostname.split(".");
      if (host.length >= 2 && new URL(referrer).hostname !== url.hostname) context.referrer = host[host.length - 2];
    } catch {
      // no readable referrer: leave it out
    }
  }
  return context;
}

/** The SigV4 signer for `service` under the bindings' AWS credentials, made once per isolate. */
export function awsClient(config, service) {
  if (!config.awsClients.has(service)) config.awsClients.set(service, new AwsClient({ ...config.aws, service }));
  return config.awsClients.get(service);
}

/** A fetch that carries the front door's authentication: SigV4 or the shared-secret header. */
export async function authorized(config, url, init) {
  if (config.auth === "header") {
    return new Request(url, { ...init, headers: { ...init.headers, [config.authHeader]: config.authSecret } });
  }
  if (config.auth === "sigv4") {
    // CloudFront OAC and Function URLs want the payload's hash signed as a header on a POST.
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(init.body ?? ""));
    const hash = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    // service lambda: a Function URL with AuthType AWS_IAM (CloudFront OAC signs the same).
    return awsClient(config, "lambda").sign(url, { ...init, headers: { ...init.headers, "x-amz-content-sha256": hash } });
  }
  return new Request(url, init);
}

/** `promise`, waited for at most DECIDE_TIMEOUT_MS (then undefined; it goes on unwaited):
 * for what Lambda@Edge must finish before it answers, having no waitUntil. */
export function withinBudget(config, promise) {
  return Promise.race([promise, new Promise((done) => setTimeout(done, config.budgetMs))]);
}

/** decide within the budget; null on timeout, error or a non-200, so the page shows its default. */
export async function decide(config, body, gpc, fetchImpl = fetch) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.budgetMs);
  try {
    const headers = { "content-type": "application/json" };
    if (gpc) headers["sec-gpc"] = "1";
    const request = await authorized(config, config.decideUrl, { method: "POST", headers, body: JSON.stringify(body) });
    const response = await fetchImpl(request, { signal: controller.signal });
    if (response.status !== 200) return null;
    const answer = await response.json();
    return answer.decisions ?? null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** What the origin needs to render the slots itself: experience, variant, reason per placement. */
export function decisionsHeader(decisions) {
  const slim = {};
  for (const [placement, d] of Object.entries(decisions)) {
    slim[placement] = { experience: d.experience, variant: d.variant, reason: d.reason };
  }
  return JSON.stringify(slim);
}

/** The decisions header and its signature, for the origin to verify (clients/origin/);
 * none without DECISIONS_SECRET, as there would be nothing an origin could check. */
export async function signedDecisions(config, decisions, now = Date.now()) {
  if (!config.decisionsKey) return {};
  const value = decisionsHeader(decisions);
  return { [DECISIONS_HEADER]: value, [SIGNATURE_HEADER]: await signature(config, value, now) };
}

/** The decisions as the page sees them: what it renders and the exposure tokens; each
 * decision's trace (competing experiences, why they lost) only with EARNEST_DEBUG. */
export function pageDecisions(decisions, config) {
  const out = {};
  for (const [placement, d] of Object.entries(decisions)) {
    const seen = {};
    for (const field of PAGE_FIELDS) if (d[field] !== undefined) seen[field] = d[field];
    if (config.debug && d.trace?.length) seen.trace = d.trace;
    out[placement] = seen;
  }
  return out;
}

/** One batch for the placements the page showed: an exposure per token decide returned. */
export function exposureBatch(decisions, shown, consent, now = Date.now()) {
  const events = [];
  for (const placement of shown) {
    const token = decisions[placement]?.token;
    if (token) events.push({ type: "exposure", event_id: crypto.randomUUID(), token, ts: now });
  }
  return { events, consent };
}

/** Post the batch; once more on a network error or a 5xx, under the same Idempotency-Key,
 * so the events are stored once whichever attempt got through. */
export async function postExposures(config, batch, key, fetchImpl = fetch) {
  if (!batch.events.length) return 0;
  const headers = { "content-type": "application/json", "idempotency-key": key };
  if (batch.consent?.gpc === true) headers["sec-gpc"] = "1"; // GPC both ways, as for decide
  const init = { method: "POST", headers, body: JSON.stringify(batch) };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const response = await fetchImpl(await authorized(config, config.eventsUrl, init));
      if (response.status < 500) return response.status;
    } catch {
      // retried below
    }
  }
  return 503;
}

const MAX_BATCH = 500; // what /events takes in one request
const MAX_BEACON_BYTES = 1024 * 1024; // and its body limit

/** A page's beacon (sendBeacon to BEACON_PATH on the site itself) on to /events, with the
 * edge's authentication, which no page can hold (the shared secret; SigV4 and the body's
 * hash), and the browser's Sec-GPC. The body goes as the page sent it: /events judges it.
 * Resolves to /events' status and JSON answer; 413 or 503 from here when it cannot go. */
export async function relayBeacon(config, body, viewerHeaders, fetchImpl = fetch) {
  if (new TextEncoder().encode(body).length > MAX_BEACON_BYTES) {
    return { status: 413, body: JSON.stringify({ error: { code: "payload_too_large", message: `body exceeds ${MAX_BEACON_BYTES} bytes`, field: "body" } }) };
  }
  const headers = { "content-type": "application/json" };
  const key = viewerHeaders.get("idempotency-key");
  if (key) headers["idempotency-key"] = key;
  if (viewerHeaders.get("sec-gpc") === "1") headers["sec-gpc"] = "1";
  try {
    const response = await fetchImpl(await authorized(config, config.eventsUrl, { method: "POST", headers, body }));
    return { status: response.status, body: await response.text() };
  } catch {
    return { status: 503, body: JSON.stringify({ error: { code: "unavailable", message: "events were not recorded; retry" } }) };
  }
}

/** Queue one page view's exposures: the page views an isolate serves within EXPOSURE_BATCH_MS
 * go to /events as one batch per consent (a batch carries one), so there are fewer requests
 * and fewer objects for the nightly report to read. The page view that opens a batch posts
 * it when its timer fires, in its own ctx.waitUntil (the promise returned; null when an open
 * batch takes these); a full batch is left to its timer and a new one opened. 0: no batching. */
export function queueExposures(config, batch, fetchImpl = fetch) {
  if (!batch.events.length) return null;
  if (!(config.batchMs > 0)) return postExposures(config, batch, `edge-${crypto.randomUUID()}`, fetchImpl);
  const key = JSON.stringify(batch.consent);
  const open = config.batches.get(key);
  if (open && open.events.length + batch.events.length <= MAX_BATCH) {
    open.events.push(...batch.events);
    return null;
  }
  const mine = { events: [...batch.events], consent: batch.consent };
  config.batches.set(key, mine);
  return new Promise((resolve) => {
    setTimeout(() => {
      if (config.batches.get(key) === mine) config.batches.delete(key);
      resolve(postExposures(config, mine, `edge-${crypto.randomUUID()}`, fetchImpl));
    }, config.batchMs);
  });
}

/** decide's request for this page view; `gpc` is forwarded as the header too. The unit stays
 * the anonymous id; a vouched identity adds the user, how sure the site is, its attributes. */
export function decideBody(visitorId, placements, context, consent, identity = null) {
  const { attributes, ...who } = identity ?? {};
  const body = { visitor: { anonymous_id: visitorId, ...who }, placements, context };
  if (attributes) body.attributes = attributes;
  if (Object.keys(consent).length) body.consent = consent;
  return body;
}
