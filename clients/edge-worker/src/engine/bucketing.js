// Deterministic bucketing, as shared/earnest/decide/bucketing.py: MurmurHash3 x86 32-bit
// (Python's mmh3, unsigned) over the UTF-8 bytes of the unit id, scaled to [0, 1). The same
// unit lands in the same bucket at the edge and in decide.

export const SCALE = 1 / 4294967296; // 2**32
export const GLOBAL_HOLDOUT_SEED_NAME = "earnest:global-holdout";
const encoder = new TextEncoder();

/** MurmurHash3 x86 32 of `text` (UTF-8) under `seed`, unsigned. */
export function murmur3(text, seed) {
  const bytes = encoder.encode(text);
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const tail = bytes.length & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < tail; i += 4) {
    let k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (bytes.length & 3) {
    case 3:
      k ^= bytes[tail + 2] << 16;
    // falls through
    case 2:
      k ^= bytes[tail + 1] << 8;
    // falls through
    case 1:
      k ^= bytes[tail];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit seed from a stable name (e.g. `hiking-hero:holdout`). */
export function seedFor(name) {
  return murmur3(name, 0);
}

export function bucket(unit, seed) {
  return murmur3(unit, seed) * SCALE;
}

/** Upper bounds of each weight's interval in [0, 1]; the last is exactly 1. */
export function cumulativeShares(weights) {
  const total = weights.reduce((a, b) => a + b, 0);
  let running = 0;
  const bounds = weights.map((w) => (running += w) / total);
  bounds[bounds.length - 1] = 1;
  return bounds;
}

/** The index whose interval holds `position` (bisect_right over the bounds). */
export function pick(position, bounds) {
  let i = 0;
  while (i < bounds.length && bounds[i] <= position) i += 1;
  return i;
}
