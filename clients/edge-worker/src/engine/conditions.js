// Audience conditions at the edge: the same language and the same answers as Python's
// `earnest.audience.matches` (shared/earnest/conditions/), which follows GrowthBook's
// `evalCondition`. Where the Python engine departs from plain JavaScript (a missing path
// is null, values nested past 32 levels read as nothing, a regex reads at most 4096
// characters and runs on RE2), this module departs the same way, so the edge and decide
// agree. Compiled once per bundle into closures; a request pays only for lookups and
// comparisons. No platform API.

const MAX_DEPTH = 32; // shared/earnest/conditions/limits.py
const MAX_SIZE = 5000;
const MAX_PATTERN_LENGTH = 1024;
const MAX_REGEX_INPUT = 4096;
const MAX_VALUE_DEPTH = 32;

// shared/earnest/conditions/recency.py
const DAY_MS = 86400000;
const MAX_DAYS = 36500;
const FUTURE_SKEW_MS = 300000;
const MAX_EPOCH_MS = 8.64e15;

/** An audience the edge cannot evaluate exactly as decide does (a pattern outside the
 * subset both regex engines read alike): the experience is decided by /decide. */
export class NotPortable extends Error {}

const never = () => false;
const always = () => true;
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isNumber = (v) => typeof v === "number";
const hasOwn = Object.prototype.hasOwnProperty;

export function isOperatorObject(value) {
  if (!isObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith("$"));
}

/** Whether `attributes` satisfies `condition` (compiles each time: for tools and tests). */
export function matches(condition, attributes, savedGroups = null) {
  return compileCondition(condition, savedGroups)(attributes);
}

/** A predicate over an attributes document. Throws on a condition that is not a mapping or
 * is too large; with `strict`, throws NotPortable where the edge could disagree with decide
 * (a pattern outside the portable subset; a saved group when `savedGroups` is null). */
export function compileCondition(condition, savedGroups = null, { strict = false } = {}) {
  if (!isObject(condition)) throw new Error("a condition must be a mapping");
  const problem = sizeProblem(condition);
  if (problem) throw new Error(problem);
  const groups = {};
  for (const [name, ids] of Object.entries(savedGroups ?? {})) groups[name] = Array.from(ids);
  return compile(condition, { groups, strict, groupsKnown: savedGroups !== null && savedGroups !== undefined });
}

function sizeProblem(condition) {
  const stack = [[condition, 1]];
  let size = 0;
  while (stack.length) {
    const [value, depth] = stack.pop();
    size += 1;
    if (size > MAX_SIZE) return `the condition has more than ${MAX_SIZE} values`;
    if (value !== null && typeof value === "object") {
      if (depth > MAX_DEPTH) return `the condition is nested more than ${MAX_DEPTH} levels deep`;
      for (const child of Object.values(value)) stack.push([child, depth + 1]);
    }
  }
  return null;
}

// ------------------------------------------------------------------ JavaScript's values, as Python reads them

/** A dotted path; a missing step is null, as in Python's reader. */
function getter(path) {
  const parts = path.split(".");
  return (obj) => {
    let current = obj;
    for (const part of parts) {
      if (Array.isArray(current)) {
        if (!current.length || !/^[0-9]+$/.test(part)) return null;
        const index = Number(part);
        if (index >= current.length) return null;
        current = current[index];
      } else if (isObject(current)) {
        if (!hasOwn.call(current, part)) return null;
        current = current[part];
      } else {
        return null;
      }
    }
    return current === undefined ? null : current;
  };
}

export function jsTruthy(value) {
  if (typeof value === "number") return value !== 0 && !Number.isNaN(value);
  return value !== null && value !== undefined && value !== false && value !== "";
}

/** String(value), with Python's float spelling and its depth bound on nested lists. */
export function jsString(value, depth = 0) {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return numberString(value);
  if (Array.isArray(value)) {
    if (depth >= MAX_VALUE_DEPTH) return "";
    return value.map((v) => (v === null || v === undefined ? "" : jsString(v, depth + 1))).join(",");
  }
  return "[object Object]";
}

function numberString(value) {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return String(value);
  // Python's repr: exponent form below 1e-4 or from 1e16, with a two-digit exponent.
  const abs = Math.abs(value);
  const text = abs < 1e-4 || abs >= 1e16 ? value.toExponential() : String(value);
  return text.replace(/e([+-])(\d)$/, "e$10$2");
}

/** ToNumber for JSON values, reading text as Python's `float`/`int(…, 0)` do (underscores
 * between digits accepted; `inf` and `nan` are not numbers). */
export function jsNumber(value) {
  if (value === null || value === undefined) return 0;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (Array.isArray(value)) return jsNumber(jsString(value));
  if (typeof value === "string") return numberFromText(value);
  return NaN;
}

const PY_DECIMAL = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_PREFIXED = { x: /^0x(?:_?[0-9a-f])+$/i, o: /^0o(?:_?[0-7])+$/i, b: /^0b(?:_?[01])+$/i };

function numberFromText(raw) {
  const text = raw.trim();
  if (!text) return 0;
  const base = /^0[xob]/i.test(text) ? PY_PREFIXED[text[1].toLowerCase()] : null;
  if (base) return base.test(text) ? Number(text.replace(/_/g, "")) : NaN;
  const bare = text.replace(/^[+-]/, "");
  if (bare === "Infinity") return text[0] === "-" ? -Infinity : Infinity;
  return PY_DECIMAL.test(text) ? Number(text.replace(/_/g, "")) : NaN;
}

/** `===` for JSON values: objects and arrays equal only themselves. */
export function jsStrictEqual(a, b) {
  return a === b;
}

function primitive(value) {
  return value !== null && typeof value === "object" ? jsString(value) : value;
}

/** The sign of `a - b` under JavaScript's relational rules; null when incomparable. */
function jsCompare(a, b) {
  a = primitive(a);
  b = primitive(b);
  if (typeof a === "string" && typeof b === "string") return codePointCompare(a, b);
  const x = jsNumber(a);
  const y = jsNumber(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return null;
  return (x > y) - (x < y);
}

/** Python compares text by code point; JavaScript's `<` by UTF-16 unit (they differ only
 * past the surrogates). */
function codePointCompare(a, b) {
  if (a === b) return 0;
  if (!/[\ud800-\udfff]/.test(a + b)) return a < b ? -1 : 1;
  const x = Array.from(a, (c) => c.codePointAt(0));
  const y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return (x.length > y.length) - (x.length < y.length);
}

/** JSON.stringify enough to compare documents, as Python's `canonical` writes it. */
function canonical(value, depth = 0) {
  if (value !== null && typeof value === "object" && depth >= MAX_VALUE_DEPTH) return "\u0000too deep";
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.entries(value).map(([k, v]) => `${canonical(k)}:${canonical(v, depth + 1)}`).join(",")}}`;
  }
  if (typeof value === "string") return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  if (typeof value === "number" && !Number.isFinite(value)) return "null";
  return jsString(value);
}

function typeOf(value) {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "object") return "object";
  return typeof value; // string, number, boolean
}

function paddedVersion(value) {
  if (isNumber(value)) value = jsString(value);
  if (!value || typeof value !== "string") value = "0";
  const parts = value.replace(/(^v|\+.*$)/g, "").split(/[-.]/);
  if (parts.length === 3) parts.push("~"); // a release sorts after its pre-releases
  return parts.map((p) => (/^[0-9]+$/.test(p) ? p.padStart(5, " ") : p)).join("-");
}

// ------------------------------------------------------------------ recency

// The request's time for $withinDays and $olderThanDays: set by `atTime` around one
// decision (decideLocally's `now`), else the wall clock. A decision evaluates its audiences
// synchronously, so one module-wide value is the request's own.
let requestTime = null;

/** Run `fn` with recency evaluated at `nowMs` (epoch milliseconds). */
export function atTime(nowMs, fn) {
  const previous = requestTime;
  requestTime = nowMs;
  try {
    return fn();
  } finally {
    requestTime = previous;
  }
}

const ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))$/;
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of a proleptic Gregorian date, as recency.py computes them. */
function daysFromCivil(year, month, day) {
  year -= month <= 2 ? 1 : 0;
  const era = Math.floor(year / 400);
  const yoe = year - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

function timeFromText(text) {
  const m = text.length <= 40 ? ISO.exec(text) : null;
  if (!m) return null;
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const daysInMonth = month === 2 && leap ? 29 : MONTH_DAYS[month - 1];
  if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0;
  if (m[8] !== undefined) {
    if (Number(m[9]) > 23 || Number(m[10]) > 59) return null;
    offset = (Number(m[9]) * 60 + Number(m[10])) * 60000 * (m[8] === "+" ? 1 : -1);
  }
  const ms = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60000 + second * 1000 + ms - offset;
}

/** A time-stamped attribute as epoch milliseconds, or null when it is not a time. */
export function timeMs(value) {
  if (typeof value === "string") return timeFromText(value);
  if (typeof value === "number" && value >= -MAX_EPOCH_MS && value <= MAX_EPOCH_MS) return value;
  return null;
}

function recency(op, arg) {
  if (typeof arg !== "number" || !Number.isFinite(arg) || arg < 0 || arg > MAX_DAYS) return never;
  const span = arg * DAY_MS;
  const within = op === "$withinDays";
  return (actual) => {
    const at = timeMs(actual);
    if (at === null) return false;
    const age = (requestTime ?? Date.now()) - at;
    if (age < -FUTURE_SKEW_MS) return false;
    return within ? age <= span : age > span;
  };
}

// ------------------------------------------------------------------ the compiler

function compile(condition, ctx) {
  const parts = [];
  for (const [key, value] of Object.entries(condition)) {
    if (key === "$or" || key === "$nor") {
      if (!Array.isArray(value)) {
        parts.push(never);
        continue;
      }
      const either = value.length ? anyOf(value.map((c) => compileSub(c, ctx))) : always;
      parts.push(key === "$or" ? either : value.length ? negate(either) : never);
    } else if (key === "$and") {
      parts.push(Array.isArray(value) ? allOf(value.map((c) => compileSub(c, ctx))) : never);
    } else if (key === "$not") {
      parts.push(negate(compileSub(value, ctx)));
    } else {
      const get = getter(key);
      const test = compileValue(value, ctx);
      parts.push((obj) => test(get(obj)));
    }
  }
  return allOf(parts);
}

function compileSub(condition, ctx) {
  return isObject(condition) ? compile(condition, ctx) : never;
}

function allOf(predicates) {
  if (!predicates.length) return always;
  if (predicates.length === 1) return predicates[0];
  return (obj) => {
    for (const p of predicates) if (!p(obj)) return false;
    return true;
  };
}

function anyOf(predicates) {
  return (obj) => {
    for (const p of predicates) if (p(obj)) return true;
    return false;
  };
}

function negate(predicate) {
  return (obj) => !predicate(obj);
}

function compileValue(expected, ctx) {
  if (isOperatorObject(expected)) {
    const tests = Object.entries(expected).map(([op, arg]) => compileOperator(op, arg, ctx));
    return tests.length === 1 ? tests[0] : (actual) => tests.every((t) => t(actual));
  }
  return equality(expected);
}

function equality(expected) {
  if (typeof expected === "string") return (actual) => (typeof actual === "string" ? actual === expected : jsString(actual) === expected);
  if (typeof expected === "boolean") return (actual) => actual !== null && jsTruthy(actual) === expected;
  if (isNumber(expected)) return (actual) => (isNumber(actual) ? actual === expected : jsNumber(actual) === expected);
  if (expected === null) return (actual) => actual === null;
  const text = canonical(expected);
  return (actual) => canonical(actual) === text;
}

function member(values, caseInsensitive = false) {
  const fold = caseInsensitive ? (v) => (typeof v === "string" ? v.toLowerCase() : v) : (v) => v;
  const folded = values.map(fold);
  const strings = new Set(folded.filter((v) => typeof v === "string"));
  const contains = (item) => {
    item = fold(item);
    if (typeof item === "string") return strings.has(item);
    return folded.some((v) => jsStrictEqual(item, v));
  };
  return (actual) => (Array.isArray(actual) ? actual.some(contains) : contains(actual));
}

const SIGNS = {
  lt: (s) => s < 0,
  lte: (s) => s <= 0,
  gt: (s) => s > 0,
  gte: (s) => s >= 0,
  eq: (s) => s === 0,
  ne: (s) => s !== 0,
};

function ordered(ok, expected) {
  return (actual) => {
    const sign = isNumber(actual) && isNumber(expected) ? (actual > expected) - (actual < expected) : jsCompare(actual, expected);
    return sign !== null && !Number.isNaN(sign) && ok(sign);
  };
}

function compileOperator(op, arg, ctx) {
  switch (op) {
    case "$lt":
    case "$lte":
    case "$gt":
    case "$gte":
      return ordered(SIGNS[op.slice(1)], arg);
    case "$veq":
    case "$vne":
    case "$vlt":
    case "$vlte":
    case "$vgt":
    case "$vgte": {
      const target = paddedVersion(arg);
      const ok = SIGNS[op.slice(2)];
      return (actual) => ok(jsCompare(paddedVersion(actual), target) || 0);
    }
    case "$eq":
      return (actual) => jsStrictEqual(actual, arg);
    case "$ne":
      return (actual) => !jsStrictEqual(actual, arg);
    case "$in":
    case "$nin":
    case "$ini":
    case "$nini": {
      if (!Array.isArray(arg)) return never;
      const test = member(arg, op.endsWith("ini"));
      return op === "$in" || op === "$ini" ? test : negate(test);
    }
    case "$inGroup":
    case "$notInGroup": {
      if (ctx.strict && !ctx.groupsKnown) throw new NotPortable(`${op} reads a saved group, which the edge is not sent`);
      const ids = typeof arg === "string" && hasOwn.call(ctx.groups, arg) ? ctx.groups[arg] : [];
      const test = member(ids);
      return op === "$inGroup" ? test : negate(test);
    }
    case "$exists":
      return jsTruthy(arg) ? (a) => a !== null : (a) => a === null;
    case "$type":
      return (actual) => typeOf(actual) === arg;
    case "$not":
      return negate(compileValue(arg, ctx));
    case "$size": {
      const test = compileValue(arg, ctx);
      return (actual) => Array.isArray(actual) && test(actual.length);
    }
    case "$elemMatch": {
      const element = isOperatorObject(arg) ? compileValue(arg, ctx) : compileSub(arg, ctx);
      return (actual) => Array.isArray(actual) && actual.some((a) => jsTruthy(a) && element(a));
    }
    case "$all":
    case "$alli": {
      if (!Array.isArray(arg)) return never;
      const fold = op === "$alli" ? (v) => (typeof v === "string" ? v.toLowerCase() : v) : (v) => v;
      const wanted = arg.map((e) => compileValue(fold(e), ctx));
      return (actual) => {
        if (!Array.isArray(actual)) return false;
        const items = actual.map(fold);
        return wanted.every((w) => items.some((a) => w(a)));
      };
    }
    case "$regex":
    case "$regexi":
    case "$notRegex":
    case "$notRegexi": {
      const found = regex(arg, op.endsWith("i"), ctx.strict);
      return op.startsWith("$regex") ? found : negate(found);
    }
    case "$withinDays":
    case "$olderThanDays":
      return recency(op, arg);
    default:
      return never; // an unknown operator never matches (validation refuses it before push)
  }
}

// ------------------------------------------------------------------ regular expressions

function pythonStr(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  return jsString(value);
}

function regex(pattern, ignoreCase, strict) {
  const source = pythonStr(pattern);
  if (source.length > MAX_PATTERN_LENGTH) return never;
  const portable = portableRegex(source, ignoreCase);
  let compiled = null;
  if (portable !== null) {
    compiled = new RegExp(portable, ignoreCase ? "iu" : "u");
  } else if (strict) {
    throw new NotPortable(`the pattern ${JSON.stringify(source).slice(0, 80)} is outside what the edge runs as RE2 does`);
  } else {
    try {
      compiled = new RegExp(source, ignoreCase ? "i" : "");
    } catch {
      return never; // as the reference does with a pattern it cannot compile
    }
  }
  return (actual) => {
    let text = typeof actual === "string" ? actual : jsString(actual);
    if (text.length > MAX_REGEX_INPUT) text = Array.from(text).slice(0, MAX_REGEX_INPUT).join("");
    return compiled.test(text);
  };
}

const SYNTAX = new Set("^$\\.*+?()[]{}|/");

/** The RE2 pattern as a JavaScript (`u` flag) source that matches exactly the same texts,
 * or null when it uses anything outside a subset both engines read alike, or could
 * backtrack badly in JavaScript's engine (RE2 is linear; here more than one unbounded
 * repeat, or a repeated group, is left to decide). `.` is RE2's (anything but a newline)
 * and `\s` is RE2's ASCII whitespace. */
export function portableRegex(pattern, ignoreCase = false) {
  let out = "";
  let unbounded = 0;
  let atom = false; // whether the last token can take a repeat
  let groupJustClosed = false;
  let i = 0;
  const chars = Array.from(pattern);
  while (i < chars.length) {
    const c = chars[i];
    let taken = 1;
    let token = null;
    let isAtom = true;
    let closes = false;
    if (c === "\\") {
      const e = escape(chars, i, false, ignoreCase);
      if (!e) return null;
      [token, taken] = e;
      if (token === "\\b" || token === "\\B") isAtom = false;
    } else if (c === "[") {
      const k = charClass(chars, i, ignoreCase);
      if (!k) return null;
      [token, taken] = k;
    } else if (c === ".") {
      token = "[^\\n]";
    } else if (c === "(") {
      if (chars[i + 1] === "?") {
        if (chars[i + 2] !== ":") return null;
        token = "(?:";
        taken = 3;
      } else {
        token = "(";
      }
      isAtom = false;
    } else if (c === ")") {
      token = ")";
      closes = true;
    } else if (c === "|" || c === "^" || c === "$") {
      token = c;
      isAtom = false;
    } else if (c === "*" || c === "+" || c === "?" || c === "{") {
      const q = repeat(chars, i);
      if (q === null && c === "{") {
        token = "\\{"; // RE2 reads a `{` that starts no repeat as itself
      } else {
        if (q === null || !atom || groupJustClosed) return null;
        const [text, length, isUnbounded] = q;
        if (isUnbounded) unbounded += 1;
        out += text;
        i += length;
        atom = false;
        groupJustClosed = false;
        continue;
      }
    } else if (c === "]" || c === "}") {
      token = `\\${c}`;
    } else {
      if (ignoreCase && c.codePointAt(0) > 127) return null;
      token = SYNTAX.has(c) ? `\\${c}` : c;
    }
    out += token;
    i += taken;
    atom = isAtom;
    groupJustClosed = closes;
  }
  if (unbounded > 1) return null;
  try {
    new RegExp(out, ignoreCase ? "iu" : "u");
  } catch {
    return null;
  }
  return out;
}

/** A repeat at chars[i]: [text, length, unbounded], or null when it is not one. */
function repeat(chars, i) {
  const c = chars[i];
  let text;
  let unbounded = false;
  let length = 1;
  if (c === "*" || c === "+") {
    text = c;
    unbounded = true;
  } else if (c === "?") {
    text = "?";
  } else {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(chars.slice(i, i + 16).join(""));
    if (!m) return null;
    const lo = Number(m[1]);
    const hi = m[2] ? (m[3] === "" ? null : Number(m[3])) : lo;
    if (lo > 1000 || (hi !== null && (hi > 1000 || hi < lo))) return null;
    unbounded = hi === null;
    text = m[0];
    length = m[0].length;
  }
  if (chars[i + length] === "?") {
    text += "?";
    length += 1;
  }
  return [text, length, unbounded];
}

const CLASS_ESCAPES = { d: "\\d", D: "\\D", w: "\\w", W: "\\W", s: "\\t\\n\\f\\r " };

/** An escape at chars[i] as JavaScript source: [text, length], or null. */
function escape(chars, i, inClass, ignoreCase) {
  const e = chars[i + 1];
  if (e === undefined) return null;
  if ("dDwW".includes(e)) return ignoreCase ? null : [`\\${e}`, 2];
  if (e === "s") return [inClass ? CLASS_ESCAPES.s : "[\\t\\n\\f\\r ]", 2];
  if (e === "S") return inClass ? null : ["[^\\t\\n\\f\\r ]", 2];
  if (e === "b" || e === "B") return inClass || ignoreCase ? null : [`\\${e}`, 2];
  if ("ntrfv".includes(e)) return [`\\${e}`, 2];
  if (e === "x") {
    const hex = chars.slice(i + 2, i + 4).join("");
    return /^[0-9a-fA-F]{2}$/.test(hex) ? [`\\x${hex}`, 4] : null;
  }
  if (/[A-Za-z0-9]/.test(e) || e.codePointAt(0) > 127) return null;
  if (SYNTAX.has(e) || (inClass && e === "-")) return [`\\${e}`, 2];
  return [e, 2]; // an escaped punctuation mark is itself
}

/** A character class at chars[i] ("[" … "]") as JavaScript source: [text, length], or null. */
function charClass(chars, i, ignoreCase) {
  let j = i + 1;
  let out = "[";
  if (chars[j] === "^") {
    out += "^";
    j += 1;
  }
  if (chars[j] === "]" || (chars[j] === "[" && chars[j + 1] === ":")) return null; // RE2-only forms
  while (j < chars.length && chars[j] !== "]") {
    const c = chars[j];
    if (c === "\\") {
      const e = escape(chars, j, true, ignoreCase);
      if (!e) return null;
      out += e[0];
      j += e[1];
      continue;
    }
    if (ignoreCase && c.codePointAt(0) > 127) return null;
    out += c === "[" ? "\\[" : c;
    j += 1;
  }
  if (chars[j] !== "]") return null;
  return [`${out}]`, j - i + 1];
}
