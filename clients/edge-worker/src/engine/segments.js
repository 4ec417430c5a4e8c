// Segment values, as shared/earnest/decide/segments.py reads them: the value of a declared
// request field (`context.<name>` or `attributes.<name>`) that decide records in the
// exposure's token. A short word (at most 32 of `A-Z a-z 0-9 _ . : -`), a boolean or a
// small whole number, as text; missing or null is `(none)`, anything else `(other)`.
// Cases shared with Python: tests/data/segment_values.json.

export const NONE = "(none)";
export const OTHER = "(other)";
const WORD = /^[A-Za-z0-9_.:-]{1,32}$/;
const MAX_NUMBER = 1000000;

/** A request field's value as a segment value. */
export function segmentValue(raw) {
  if (raw === null || raw === undefined) return NONE;
  if (raw === true) return "true";
  if (raw === false) return "false";
  if (typeof raw === "string") return WORD.test(raw) ? raw : OTHER;
  if (typeof raw === "number" && Number.isInteger(raw) && Math.abs(raw) <= MAX_NUMBER) return String(raw);
  return OTHER;
}

/** Each declared path's value for this request, in declaration order. */
export function segmentValues(paths, request) {
  const out = {};
  for (const path of paths) {
    const at = path.indexOf(".");
    const inner = request[path.slice(0, at)];
    const isObject = inner !== null && typeof inner === "object" && !Array.isArray(inner);
    out[path] = segmentValue(isObject ? inner[path.slice(at + 1)] : undefined);
  }
  return out;
}
