// What the worker's tests run against: `earnest serve` (the real local stack, over HTTP),
// a small origin site, and the worker itself under Miniflare (workerd, as Cloudflare runs it).

import { execFile, spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";

const execFileAsync = promisify(execFile);

const HERE = dirname(fileURLToPath(import.meta.url));
export const WORKER_ROOT = resolve(HERE, "..");
const REPO = resolve(WORKER_ROOT, "../..");
export const PYTHON = process.env.EARNEST_PYTHON ?? join(REPO, ".venv/bin/python");

export const PAGE = `<!doctype html><html><head><title>shop</title></head><body>
<section data-earnest-placement="edge-hero"><h1 data-earnest-field="headline">Welcome to the shop</h1></section>
</body></html>`;

/** `earnest serve` on free ports (its functions see `extraEnv` too, e.g. FRONT_DOOR_SECRET);
 * resolves once it prints "ready". */
export async function startStack(extraEnv = {}) {
  const folder = mkdtempSync(join(tmpdir(), "edge-stack-"));
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_"))), ...extraEnv };
  const child = spawn(PYTHON, ["-m", "earnest_cli", "serve", "--api-port", "0", "--aws-port", "0", "--log", join(folder, "functions.log")], { env, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`earnest serve did not start:\n${text}`)), 60_000);
    const read = (chunk) => {
      text += chunk;
      if (text.includes("\nready\n")) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => fail(new Error(`earnest serve exited ${code}:\n${text}`)));
  });
  const [, api, aws] = text.match(/API (\S+)\s+AWS (\S+)/);
  const localEnv = JSON.parse(await python("import json; from earnest_cli.local_stack import LOCAL_ENV; print(json.dumps(LOCAL_ENV))", {}));
  const stackEnv = { ...env, ...localEnv, AWS_ENDPOINT_URL: aws };
  return { api, aws, env: stackEnv, folder, stop: () => child.kill("SIGTERM") };
}

/** Python's stdout, from a child that leaves the event loop running: a loop blocked (a
 * synchronous child) past workerd's 5 s idle timeout lets Miniflare's next dispatchFetch
 * reuse a connection workerd closed meanwhile, and fail ("fetch failed": other side closed). */
async function runPython(args, env) {
  const { stdout } = await execFileAsync(PYTHON, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

export function python(code, env) {
  return runPython(["-c", code], { ...process.env, ...env });
}

/** An experience only the worker's tests use: contextual, but it needs personalization
 * consent. `id`, `priority` and `gated` (false: no consent needed, every visitor) vary it. */
export async function pushTestExperience(stack, { id = "edge-hero-test", priority = 1, gated = true } = {}) {
  const today = new Date().toISOString().slice(0, 10);
  const audience = gated ? "audience:\n  context.device: desktop\nrequires_consent: [personalization]\n" : "";
  const yaml = `id: ${id}
placement: edge-hero
owner: edge@shop.example
status: live
priority: ${priority}
${audience}variants:
  - id: bold
    weight: 1
    content: {headline: "Personal pick for you"}
default: {headline: "Welcome to the shop"}
holdout: 0.01
measurement_plan:
  hypothesis: A bolder hero lifts click-through by 5 % or more.
  primary_metric: conversion
  guardrail_metrics: [bounce]
  minimum_detectable_effect: 0.05
  min_units_per_arm: 2000
review_every_days: 30
last_reviewed: ${today}
`;
  const dir = mkdtempSync(join(tmpdir(), "edge-exp-"));
  writeFileSync(join(dir, `${id}.yaml`), yaml);
  await earnestCli(stack, ["push", dir, "--actor", "edge-test"]);
}

/** Every record stored under events/ in the stack's S3, as the report reads them. */
export async function storedEvents(stack) {
  const code = `
import json
from earnest_aws.clients import client
from earnest_aws.settings import settings
from earnest.events.objects import read_events
s3, bucket, out = client("s3"), settings().events_bucket, []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="events/"):
    for item in page.get("Contents", []):
        out += read_events(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
print(json.dumps(out, default=str))`;
  return JSON.parse(await python(code, stack.env));
}

/** The CMP's signed consent webhook (Standard Webhooks), as a CMP would post it. */
export async function sendConsent(stack, update) {
  const secret = Buffer.from(stack.env.CONSENT_WEBHOOK_SECRETS.split(",")[0].replace(/^whsec_/, ""), "base64");
  const body = JSON.stringify(update);
  const id = `msg_${randomUUID().replace(/-/g, "")}`;
  const ts = Math.floor(Date.now() / 1000);
  const signature = createHmac("sha256", secret).update(`${id}.${ts}.${body}`).digest("base64");
  const response = await fetch(`${stack.api}/consent`, {
    method: "POST",
    headers: { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(ts), "webhook-signature": `v1,${signature}` },
    body,
  });
  return response.status;
}

/** A loopback HTTP server; `handle(req, res, body)` answers; `seen` keeps each request's headers. */
export async function server(handle) {
  const seen = [];
  const http = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ url: req.url, headers: req.headers, body });
      handle(req, res, body);
    });
  });
  await new Promise((ok) => http.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${http.address().port}`, seen, close: () => new Promise((ok) => http.close(ok)) };
}

export function origin() {
  return server((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  });
}

/** The worker under Miniflare with these bindings: every module under src/ and src/engine/,
 * worker.js first (the entry), and aws4fetch named as core.js imports it, beside it. */
export function worker(bindings) {
  const aws4fetch = readFileSync(join(WORKER_ROOT, "node_modules/aws4fetch/dist/aws4fetch.esm.mjs"), "utf8");
  const sources = ["worker.js", ...readdirSync(join(WORKER_ROOT, "src")).filter((f) => f.endsWith(".js") && f !== "worker.js")];
  const modules = sources.map((f) => ({ type: "ESModule", path: join(WORKER_ROOT, "src", f), contents: readFileSync(join(WORKER_ROOT, "src", f), "utf8") }));
  const engine = readdirSync(join(WORKER_ROOT, "src/engine")).map((name) => {
    const path = join(WORKER_ROOT, "src/engine", name);
    return { type: "ESModule", path, contents: readFileSync(path, "utf8") };
  });
  return new Miniflare({
    modulesRoot: WORKER_ROOT,
    modules: [
      ...modules,
      ...engine,
      { type: "ESModule", path: join(WORKER_ROOT, "src/aws4fetch"), contents: aws4fetch },
    ],
    compatibilityDate: "2024-09-23",
    // A fixed request.cf (a visitor in Germany): Miniflare would otherwise fetch one from
    // workers.cloudflare.com, and the tests and the demo stay on loopback.
    cf: { country: "DE", colo: "FRA" },
    bindings: { EARNEST_ROUTES: JSON.stringify({ "/": ["edge-hero"], "/shop/*": ["edge-hero"] }), ...bindings },
  });
}

/** Where the local stack publishes the edge's rules bundle, as S3 holds it in production. */
export function bundleUrl(stack) {
  return `${stack.aws}/earnest-data/edge/bundle.json`;
}

/** The edge's token key as the local stack's /events knows it (the `edge:` entry). */
export function edgeTokenKey(stack) {
  return stack.env.EXPOSURE_TOKEN_KEYS.split(",").find((k) => k.startsWith("edge:"));
}

/** A contextual experience (no consent purpose): the edge decides it without /decide. */
export async function pushLocalExperience(stack) {
  const today = new Date().toISOString().slice(0, 10);
  const yaml = `id: edge-local-test
placement: edge-local
owner: edge@shop.example
status: live
priority: 1
audience:
  context.device: desktop
variants:
  - id: calm
    weight: 1
    content: {note: "Free returns, always"}
  - id: loud
    weight: 1
    content: {note: "FREE RETURNS"}
default: {note: "Returns within 30 days"}
holdout: 0.01
measurement_plan:
  hypothesis: A returns note lifts conversion by 5 % or more.
  primary_metric: conversion
  minimum_detectable_effect: 0.05
  min_units_per_arm: 2000
review_every_days: 30
last_reviewed: ${today}
`;
  const dir = mkdtempSync(join(tmpdir(), "edge-local-"));
  writeFileSync(join(dir, "edge-local.yaml"), yaml);
  await earnestCli(stack, ["push", dir, "--actor", "edge-test"]);
}

export function earnestCli(stack, args) {
  return runPython(["-m", "earnest_cli", ...args], stack.env);
}
