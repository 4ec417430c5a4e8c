// Decides a batch of decide requests with the edge's engine, for the agreement test
// (tests/e2e/test_edge_agreement.py): `node decide-batch.mjs bundle.json groups.json
// requests.jsonl KID:SECRET NOW_MS` prints one JSON line per request (each input line is
// {"body": a decide request, "memory": the unit's memory or null}, decided at NOW_MS):
//   {"edge": {placement: [experience, variant, reason]}, "remote": [placement...],
//    "stored": {"none"|"denied"|"granted": {placement: [...]}}, "tokens": {placement: token}}
// `edge` is what the worker decides (stored consent unknown, no saved groups); `stored` is
// the same engine told the stored consent and the memory and given the groups, as decide is.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createReadStream } from "node:fs";
import { compileBundle, decideLocally } from "../src/engine/decide.js";
import { tokenSigner } from "../src/engine/tokens.js";

const [bundlePath, groupsPath, requestsPath, tokenKey, nowArg] = process.argv.slice(2);
const now = nowArg ? Number(nowArg) : Date.now();
const bundle = JSON.parse(readFileSync(bundlePath, "utf8"));
const edge = compileBundle(bundle);
const full = compileBundle(bundle, { savedGroups: JSON.parse(readFileSync(groupsPath, "utf8")) });
const signer = tokenKey ? tokenSigner(tokenKey) : null;
const STORED = {
  none: null,
  denied: { personalization: "denied", measurement: "denied" },
  granted: { personalization: "granted", measurement: "granted" },
};

const slim = (decisions) => Object.fromEntries(Object.entries(decisions).map(([p, d]) => [p, [d.experience, d.variant, d.reason]]));
const out = [];
let index = 0;
for await (const line of createInterface({ input: createReadStream(requestsPath) })) {
  if (!line) continue;
  const { body, memory } = JSON.parse(line);
  const local = await decideLocally(edge, body, { signer: index < 1000 ? signer : null, now });
  const stored = {};
  for (const [name, purposes] of Object.entries(STORED)) stored[name] = slim((await decideLocally(full, body, { stored: purposes, memory, now })).decisions);
  const tokens = {};
  for (const [p, d] of Object.entries(local.decisions)) if (d.token) tokens[p] = d.token;
  out.push(JSON.stringify({ edge: slim(local.decisions), remote: local.remote, stored, tokens }));
  index += 1;
  if (out.length >= 5000) process.stdout.write(out.splice(0).join("\n") + "\n");
}
process.stdout.write(out.length ? out.join("\n") + "\n" : "");
