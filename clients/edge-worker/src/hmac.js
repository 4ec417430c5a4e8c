// The edge's HMAC-SHA256 keys and base64url, in one place: the core's signatures (the
// decisions header, the identity cookie, the anonymous-id handoff) and the engine's exposure
// tokens. WebCrypto, btoa and atob only, which every edge runtime (and Node) has.

const encoder = new TextEncoder();

/** `secret` imported as a WebCrypto HMAC-SHA256 key (a promise: import once, await per use). */
export function hmacKey(secret) {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/** base64url without padding, as Earnest's tokens and signatures carry bytes. */
export function toBase64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64 or base64url text, padded or not; throws on anything else. */
export function fromBase64url(text) {
  return Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
}
