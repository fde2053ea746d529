"use strict";
// The three job actions: the requests they send, the progress they show, each failure's message.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, job, SETTINGS } = require("./harness");

const ACTIONS = [
  { fn: "retrainModel", kind: "retrain", title: "Retrain model" },
  { fn: "refreshPredictions", kind: "push", title: "Refresh predictions" },
  { fn: "applyOverrides", kind: "pull", title: "Apply overrides" },
];

/** A bridge that accepts the start and then reports the given job states in turn. */
function scriptedBridge(kind, states) {
  const queue = states.slice();
  return (url, params) => {
    if (params.method === "post") return { status: 202, body: { job: job({ kind, state: "queued" }) } };
    const next = queue.length > 1 ? queue.shift() : queue[0];
    return { status: 200, body: { job: job(Object.assign({ kind }, next)) } };
  };
}

for (const { fn, kind, title } of ACTIONS) {
  test(`${fn} posts to /api/${kind} with the bearer token and a JSON body`, () => {
    const { context, calls } = load({
      properties: SETTINGS,
      fetch: scriptedBridge(kind, [{ state: "done", message: "all good" }]),
    });
    context[fn]();
    const start = calls.fetch[0];
    assert.equal(start.url, `https://bridge.example.org/api/${kind}`);
    assert.deepEqual(start.params, {
      method: "post",
      headers: { Authorization: "Bearer s3cret", Accept: "application/json" },
      muteHttpExceptions: true,
      contentType: "application/json",
      payload: "{}",
    });
    const poll = calls.fetch[1];
    assert.equal(poll.url, "https://bridge.example.org/api/jobs/job-1");
    assert.deepEqual(poll.params, {
      method: "get",
      headers: { Authorization: "Bearer s3cret", Accept: "application/json" },
      muteHttpExceptions: true,
    });
    assert.equal(calls.alerts.length, 0);
    const last = calls.toasts[calls.toasts.length - 1];
    assert.equal(last.title, `Data-centric AI: ${title}`);
    assert.match(last.msg, /^Done\. all good/);
  });
}

test("a trailing slash in the stored URL does not double the slash", () => {
  const { context, calls } = load({
    properties: { BRIDGE_URL: "https://bridge.example.org/sub/", BRIDGE_TOKEN: "t" },
    fetch: scriptedBridge("push", [{ state: "done" }]),
  });
  context.refreshPredictions();
  assert.equal(calls.fetch[0].url, "https://bridge.example.org/sub/api/push");
});

test("progress is toasted once per change of step or fraction while polling", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    fetch: scriptedBridge("retrain", [
      { state: "running", step: "pull", progress: 0.1 },
      { state: "running", step: "pull", progress: 0.1 },
      { state: "running", step: "train", progress: 0.5 },
      { state: "done", step: "push", progress: 1, message: "v0003: val accuracy 81%" },
    ]),
  });
  context.retrainModel();
  const messages = calls.toasts.map((t) => t.msg);
  assert.deepEqual(messages, [
    "Started job job-1.",
    "Job job-1: queued",
    "Job job-1: running, pull, 10%",
    "Job job-1: running, train, 50%",
    "Done. v0003: val accuracy 81%",
  ]);
  assert.equal(calls.fetch.length, 5);
  assert.ok(calls.sleeps.every((ms) => ms === 3000));
});

test("a failed job is shown with the bridge's error", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    fetch: scriptedBridge("push", [{ state: "failed", error: "SheetError: the sheet has no 'id' column" }]),
  });
  context.refreshPredictions();
  assert.equal(calls.alerts.length, 1);
  assert.equal(calls.alerts[0].title, "Data-centric AI: Refresh predictions");
  assert.equal(calls.alerts[0].prompt, "Job job-1 failed: SheetError: the sheet has no 'id' column.");
});

test("waiting stops before Apps Script's time limit and says the job goes on", () => {
  const { context, calls, clock } = load({
    properties: SETTINGS,
    fetch: scriptedBridge("retrain", [{ state: "running", step: "train", progress: 0.3 }]),
  });
  const start = clock.now;
  context.retrainModel();
  assert.ok(clock.now - start <= 300_000, "waited longer than five minutes");
  assert.ok(clock.now - start >= 297_000, "gave up early");
  assert.equal(calls.alerts.length, 1);
  assert.match(calls.alerts[0].prompt, /^Job job-1 is still running, train, 30% on the bridge after 5 minutes/);
});

test("a few failed status requests are tolerated, then the job id is reported", () => {
  let polls = 0;
  const { context, calls } = load({
    properties: SETTINGS,
    fetch: (url, params) => {
      if (params.method === "post") return { status: 202, body: { job: job({ kind: "pull" }) } };
      polls += 1;
      if (polls <= 2) throw new Error("Timeout");
      if (polls === 3) return { status: 200, body: { job: job({ kind: "pull", state: "running" }) } };
      return { status: 502, body: "<html>Bad gateway</html>" };
    },
  });
  context.applyOverrides();
  assert.equal(polls, 6);
  assert.equal(calls.alerts.length, 1);
  assert.match(calls.alerts[0].prompt, /^Lost track of job job-1 \(it may still be running on the bridge\): /);
  assert.match(calls.alerts[0].prompt, /HTTP 502/);
});

// --- every failure of the start request becomes one clear alert, never a thrown error --------

const FAILURES = [
  {
    name: "unreachable bridge",
    fetch: () => {
      throw new Error("Address unavailable: https://bridge.example.org/api/retrain");
    },
    expect: /^Cannot reach the bridge at https:\/\/bridge\.example\.org \(Address unavailable: .*\)\. Is `sheets-bridge serve` running and reachable over HTTPS\? Check the URL in Data-centric AI > Settings\.$/,
  },
  {
    name: "401 wrong token",
    fetch: () => ({ status: 401, body: { error: "missing or wrong API token" } }),
    expect: /^The bridge refused the API token \(HTTP 401\)\. Open Data-centric AI > Settings and paste the `token`/,
  },
  {
    name: "409 job already running (JOB object)",
    fetch: () => ({
      status: 409,
      body: { error: "a job is already running", job: job({ id: "7f3a", kind: "push", state: "running", step: "write", progress: 0.25 }) },
    }),
    expect: /^Another job is already running on the bridge: job 7f3a \(push, running, write, 25%\)\. Wait for it to end, then try again\.$/,
  },
  {
    name: "409 job already running (bare id)",
    fetch: () => ({ status: 409, body: { error: "busy", job: "7f3a" } }),
    expect: /^Another job is already running on the bridge: job 7f3a\./,
  },
  {
    name: "500 with a JSON error",
    fetch: () => ({ status: 500, body: { error: "WorkspaceError: no run yet; train first" } }),
    expect: /^The bridge failed \(HTTP 500\): WorkspaceError: no run yet; train first\. See the bridge's log/,
  },
  {
    name: "503 with an HTML page from a proxy",
    fetch: () => ({ status: 503, body: "<html><body>\n  Service Unavailable\n</body></html>" }),
    expect: /^The bridge failed \(HTTP 503\): <html><body> Service Unavailable <\/body><\/html>\./,
  },
  {
    name: "200 with a body that is not JSON (a tunnel's login page)",
    fetch: () => ({ status: 200, body: "<!doctype html><title>Sign in</title>" }),
    expect: /^The answer from https:\/\/bridge\.example\.org\/api\/retrain is not JSON \(is the URL the bridge's, not a login page\?\): <!doctype html>/,
  },
  {
    name: "202 without a job",
    fetch: () => ({ status: 202, body: { ok: true } }),
    expect: /^The bridge accepted the request but named no job: \{"ok":true\}$/,
  },
  {
    name: "404 (URL is not the bridge's base)",
    fetch: () => ({ status: 404, body: { error: "not found" } }),
    expect: /^The bridge has no https:\/\/bridge\.example\.org\/api\/retrain \(HTTP 404: not found\)\. Is the URL in Settings/,
  },
  {
    name: "400 bad request",
    fetch: () => ({ status: 400, body: { error: "preset must be fast or dcai" } }),
    expect: /^The bridge refused the request \(HTTP 400\): preset must be fast or dcai\.$/,
  },
];

for (const failure of FAILURES) {
  test(`retrain shows a clear alert on: ${failure.name}`, () => {
    const { context, calls } = load({ properties: SETTINGS, fetch: failure.fetch });
    assert.doesNotThrow(() => context.retrainModel());
    assert.equal(calls.fetch.length, 1, "no retry or poll after a failed start");
    assert.equal(calls.alerts.length, 1);
    assert.equal(calls.alerts[0].title, "Data-centric AI: Retrain model");
    assert.match(calls.alerts[0].prompt, failure.expect);
  });
}

test("the token never appears in a message", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    fetch: () => ({ status: 401, body: { error: "wrong token s3cret" } }),
  });
  context.retrainModel();
  assert.doesNotMatch(calls.alerts[0].prompt, /s3cret/);
});

test("without settings the actions say to open Settings and send nothing", () => {
  for (const [properties, expect] of [
    [{}, /^No bridge URL yet\. Open Data-centric AI > Settings/],
    [{ BRIDGE_URL: "https://bridge.example.org" }, /^No API token yet\. Open Data-centric AI > Settings/],
  ]) {
    const { context, calls } = load({ properties });
    context.refreshPredictions();
    assert.equal(calls.fetch.length, 0);
    assert.match(calls.alerts[0].prompt, expect);
  }
});

test("when no dialog can be shown, the failure is toasted instead of thrown", () => {
  const { context, calls } = load({ properties: SETTINGS, uiUnavailable: true });
  assert.doesNotThrow(() => context.retrainModel());
  assert.equal(calls.toasts.length, 1);
  assert.match(calls.toasts[0].msg, /^Cannot reach the bridge/);
});

test("an unexpected error inside an action is an alert, not a script error", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    fetch: () => ({ status: 202, body: { job: job() } }),
    onSleep: () => {
      throw new TypeError("boom");
    },
  });
  assert.doesNotThrow(() => context.retrainModel());
  assert.equal(calls.alerts.length, 1);
  assert.equal(calls.alerts[0].prompt, "Unexpected error: boom");
});
