"use strict";
// Runs one menu action of Code.js against a bridge on the other end of stdin/stdout, for the
// contract test in tests/test_apps_script_contract.py (pytest replays each request against the
// Flask app and answers with the app's real response).
//
// Protocol, one JSON object per line:
//   in  (first line)  {"action": "retrainModel", "code"?: "...", "properties"?: {},
//                      "userProperties"?: {}, "prompts"?: [], "sheets"?: [], "sleep_scale"?: 0.02}
//   out               {"type": "request", "url": "...", "params": {...}}   (UrlFetchApp.fetch)
//   in                {"status": 202, "body": "..."}  or  {"throw": "message"}
//   out (last line)   {"type": "done", "calls": {...}, "properties": {...}, "userProperties": {...},
//                      "sidebar": null | {"shown", "state", "problem", "bar", "polls"}, "error": null}
// When the action opens a job sidebar, its page runs until it stops polling (real, scaled waits).

const fs = require("node:fs");
const { load, runSidebar } = require("./harness");

if (process.env.NODE_TEST_CONTEXT) {
  // Picked up by `node --test` as if it were a test file: it is a driver, not a test.
  process.exit(0);
}

const pending = [];
let buffered = "";

/** The next line of stdin, read synchronously (UrlFetchApp.fetch is synchronous). */
function readLine() {
  while (pending.length === 0) {
    const chunk = Buffer.alloc(65536);
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === "EAGAIN") continue;
      throw e;
    }
    if (n === 0) throw new Error("stdin closed before the bridge answered");
    buffered += chunk.subarray(0, n).toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop();
    pending.push(...lines.filter((l) => l.trim()));
  }
  return JSON.parse(pending.shift());
}

function send(message) {
  fs.writeSync(1, JSON.stringify(message) + "\n");
}

/** Real (scaled-down) waiting, so the bridge's job makes progress between two polls. */
function sleepReal(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const setup = readLine();
const scale = typeof setup.sleep_scale === "number" ? setup.sleep_scale : 0.02;
const session = load({
  code: setup.code,
  properties: setup.properties,
  userProperties: setup.userProperties,
  prompts: setup.prompts,
  sheets: setup.sheets,
  onSleep: (ms) => sleepReal(ms * scale),
  fetch: (url, params) => {
    send({ type: "request", url, params });
    const answer = readLine();
    if (answer.throw) throw new Error(answer.throw);
    return { status: answer.status, body: answer.body };
  },
});

let error = null;
let sidebar = null;
try {
  session.context[setup.action]();
  if (session.calls.sidebars.length) {
    const page = runSidebar(session, session.calls.sidebars[0].html, { beforeTimer: (ms) => sleepReal(ms * scale) });
    const shown = [page.text("state")];
    while (page.step()) {
      if (page.text("state") !== shown[shown.length - 1]) shown.push(page.text("state"));
    }
    sidebar = {
      shown,
      state: page.text("state"),
      problem: page.text("problem"),
      bar: page.elements.bar.value,
      polls: page.serverCalls.length,
    };
  }
} catch (e) {
  // Code.js should never let an error escape a menu action; the test asserts error is null.
  error = String(e && e.stack ? e.stack : e);
}
const { fetch: _requests, ...calls } = session.calls;
send({ type: "done", calls, properties: session.properties, userProperties: session.userProperties, sidebar, error });
