#!/usr/bin/env node
// Validate AsyncAPI documents with the official parser (@asyncapi/parser, pinned in
// package.json; install with `npm ci`).
//
//   node scripts/validate-asyncapi.mjs docs/protocol/asyncapi-v*.json
//
// Prints every diagnostic; exits 1 when any file has a severity-0 (error) diagnostic
// or cannot be parsed at all, 2 on usage errors. The parser itself sends no telemetry;
// the variables below also keep the AsyncAPI CLI and Scarf quiet should they ever be
// loaded, so nothing phones home.
import { createRequire } from "node:module";

process.env.CI ??= "true";
process.env.ASYNCAPI_SKIP_NEW_VERSION_CHECK = "true";
process.env.SCARF_ANALYTICS = "false";
process.env.DO_NOT_TRACK = "1";

const require = createRequire(import.meta.url);
const { Parser, fromFile } = require("@asyncapi/parser");

const SEVERITY = ["error", "warning", "info", "hint"];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/validate-asyncapi.mjs FILE...");
  process.exit(2);
}

const parser = new Parser();
let failed = false;
for (const file of files) {
  let diagnostics;
  let document;
  try {
    ({ document, diagnostics } = await fromFile(parser, file).parse());
  } catch (error) {
    console.error(`${file}: cannot be parsed: ${error.message ?? error}`);
    failed = true;
    continue;
  }
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics) {
    const where = d.path && d.path.length ? ` at /${d.path.join("/")}` : "";
    const stream = d.severity === 0 ? console.error : console.log;
    stream(`${file}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}${where}: ${d.message}`);
  }
  if (errors.length > 0 || document === undefined) {
    failed = true;
    console.error(`${file}: INVALID (${errors.length} error(s))`);
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}`);
  }
}
process.exit(failed ? 1 : 0);
