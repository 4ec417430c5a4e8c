// For the site's origin (Node 20, or any runtime with Web Crypto): read the decisions the
// Earnest edge worker forwarded, only when the edge signed them. Copy this file; it has no
// dependencies. clients/origin/README.md says how; earnest_origin.py is the same in Python.
//
//   import { verifiedDecisions } from "./earnest-origin.mjs";
//   const decisions = await verifiedDecisions(req.headers, [process.env.EARNEST_DECISIONS_SECRET]);
//   // null: render the default page; else {placement: {experience, variant, reason}}

export const DECISIONS_HEADER = "x-earnest-decisions";
export const SIGNATURE_HEADER = "x-earnest-signature";
export const MAX_AGE_SECONDS = 300;
const SIGNATURE = /^t=(\d{1,12}),v1=([A-Za-z0-9_-]{43})$/;

/** The decisions the edge signed (`{placement: {experience, variant, reason}}`), or null when
 * there are none, the signature does not verify under any of `secrets` (the edge's
 * DECISIONS_SECRET; several during a rotation), or it is older than `maxAgeSeconds`: then the
 * origin renders its default. `headers`: a Headers object or Node's lower-cased header map. */
export async function verifiedDecisions(headers, secrets, { maxAgeSeconds = MAX_AGE_SECONDS, now = Date.now() } = {}) {
  const read = (name) => (typeof headers.get === "function" ? headers.get(name) : headers[name]) ?? null;
  const value = read(DECISIONS_HEADER);
  const match = SIGNATURE.exec(read(SIGNATURE_HEADER) ?? "");
  if (value === null || !match) return null;
  const age = now / 1000 - Number(match[1]);
  if (age > maxAgeSeconds || age < -60) return null; // stale, or from a clock far ahead
  const mac = Uint8Array.from(atob(match[2].replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const signed = new TextEncoder().encode(`${match[1]}.${value}`);
  for (const secret of secrets) {
    if (!secret) continue;
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    if (await crypto.subtle.verify("HMAC", key, mac, signed)) {
      try {
        const decisions = JSON.parse(value);
        return decisions && typeof decisions === "object" && !Array.isArray(decisions) ? decisions : null;
      } catch {
        return null;
      }
    }
  }
  return null;
}
