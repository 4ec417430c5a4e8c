// Exposure tokens for decisions made at the edge, in decide's format (shared/earnest/tokens.py):
// `v1.<kid>.<payload>.<sig>`, base64url without padding; the payload the compact JSON
// `[unit, experience, variant, reason, rules_version, issued_at]` (and a 7th element, the
// `{path: value}` of the experience's segments, when it records any), the signature HMAC-SHA256
// over everything before it. The key is the edge's own (EDGE_TOKEN_KEY, `kid:secret`), one of
// the EXPOSURE_TOKEN_KEYS /events verifies with, so an exposure decided here is verified and
// counted exactly as one decide issued.

import { hmacKey, toBase64url } from "../hmac.js";

const encoder = new TextEncoder();

/** A signer for `kid:secret` (the secret at least 16 characters, as /events requires). */
export function tokenSigner(spec) {
  const at = spec.indexOf(":");
  const kid = spec.slice(0, at);
  const secret = spec.slice(at + 1);
  if (at <= 0 || secret.length < 16) throw new Error("EDGE_TOKEN_KEY must look like kid:secret (secret >= 16 chars)");
  const key = hmacKey(secret);
  return {
    kid,
    async sign(unit, experience, variant, reason, rulesVersion, issuedAt, segments = null) {
      const fields = [unit, experience, variant, reason, rulesVersion, issuedAt];
      if (segments && Object.keys(segments).length) fields.push(segments);
      const payload = toBase64url(encoder.encode(JSON.stringify(fields)));
      const head = `v1.${kid}.${payload}`;
      const mac = await crypto.subtle.sign("HMAC", await key, encoder.encode(head));
      return `${head}.${toBase64url(mac)}`;
    },
  };
}
