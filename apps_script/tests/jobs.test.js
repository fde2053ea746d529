// The three job actions: the start request, the sidebar that follows the job, each failure's message.
// (tests/sidebar.test.js runs the sidebar's page itself.)

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, job, SETTINGS, MY_TOKEN } = require("./harness");

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

/** The START object the script printed into the sidebar's page. */
function sidebarStart(html) {
  const match = /var START = (.*);\n/.exec(html);
  assert.ok(match, "the sidebar page has no START line");
  return JSON.parse(match[1]);
}

for (const { fn, kind, title } of ACTIONS) {
  test(`${fn} posts to /api/${kind} with the caller's bearer token and opens the job's sidebar`, () => {
    const { context, calls } = load({
      properties: SETTINGS,
      userProperties: MY_TOKEN,
      fetch: scriptedBridge(kind, [{ state: "done", message: "all good" }]),
    });
    context[fn]();
    assert.equal(calls.fetch.length, 1, "the menu run only starts the job; the sidebar polls");
    const start = calls.fetch[0];
    assert.equal(start.url, `https://bridge.example.org/api/${kind}`);
    assert.deepEqual(start.params, {
      method: "post",
      headers: { Authorization: "Bearer s3cret", Accept: "application/json" },
      muteHttpExceptions: true,
      contentType: "application/json",
      payload: "{}",
    });
    assert.equal(calls.alerts.length, 0);
    assert.deepEqual(calls.toasts.map((t) => [t.title, t.msg]), [
      [`Data-centric AI: ${title}`, "Started job job-1. The sidebar follows it."],
    ]);
    assert.equal(calls.sidebars.length, 1);
    assert.equal(calls.sidebars[0].title, `Data-centric AI: ${title}`);
    assert.deepEqual(sidebarStart(calls.sidebars[0].html), {
      job: {
        id: "job-1",
        kind,
        state: "queued",
        step: "",
        progress: 0,
        message: "",
        error: "",
        summary: "queued",
        ended: false,
      },
      title,
      pollMs: 3000,
      maxFailures: 3,
    });
  });
}

test("pollJob asks the bridge for the job with the caller's token and describes it", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: scriptedBridge("retrain", [{ state: "running", step: "train", progress: 0.456, message: "epoch 3/8" }]),
  });
  const answer = context.pollJob("job-1");
  assert.equal(calls.fetch[0].url, "https://bridge.example.org/api/jobs/job-1");
  assert.deepEqual(calls.fetch[0].params, {
    method: "get",
    headers: { Authorization: "Bearer s3cret", Accept: "application/json" },
    muteHttpExceptions: true,
  });
  assert.equal(answer.problem, null);
  assert.equal(answer.job.summary, "running, train, 46%");
  assert.equal(answer.job.message, "epoch 3/8");
  assert.equal(answer.job.ended, false);
  assert.equal(calls.alerts.length + calls.toasts.length, 0, "the sidebar shows it, not a dialog");
});

test("pollJob turns every failure into a problem for the sidebar, never a script error", () => {
  for (const [fetch, expect] of [
    [() => { throw new Error("Timeout"); }, /^Cannot reach the bridge at https:\/\/bridge\.example\.org \(Timeout\)/],
    [() => ({ status: 401, body: { error: "no" } }), /^The bridge refused the API token \(HTTP 401\)/],
    [() => ({ status: 200, body: { ok: 1 } }), /^The bridge's answer names no job: \{"ok":1\}$/],
    [() => ({ status: 502, body: "<html>Bad gateway</html>" }), /HTTP 502/],
  ]) {
    const { context } = load({ properties: SETTINGS, userProperties: MY_TOKEN, fetch });
    const answer = context.pollJob("job-1");
    assert.equal(answer.job, null);
    assert.match(answer.problem, expect);
  }
});

test("pollJob refuses what is not a job id without asking the bridge", () => {
  for (const bad of ["../status", "", "a b", 7, null, "x".repeat(101)]) {
    const { context, calls } = load({ properties: SETTINGS, userProperties: MY_TOKEN });
    const answer = context.pollJob(bad);
    assert.equal(calls.fetch.length, 0);
    assert.match(answer.problem, /^Not a job id: /);
  }
});

test("pollJob without a token of one's own says to open Settings", () => {
  const { context, calls } = load({ properties: SETTINGS });
  const answer = context.pollJob("job-1");
  assert.equal(calls.fetch.length, 0);
  assert.match(answer.problem, /^You have no API token set\. Open Data-centric AI > Settings/);
});

test("a job's text cannot end the sidebar's script element", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: () => ({ status: 202, body: { job: job({ message: "</script><script>alert(1)</script>" }) } }),
  });
  context.retrainModel();
  const html = calls.sidebars[0].html;
  assert.doesNotMatch(html, /<\/script><script>alert/);
  assert.equal(sidebarStart(html).job.message, "</script><script>alert(1)</script>");
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
    const { context, calls } = load({ properties: SETTINGS, userProperties: MY_TOKEN, fetch: failure.fetch });
    assert.doesNotThrow(() => context.retrainModel());
    assert.equal(calls.fetch.length, 1, "no retry or poll after a failed start");
    assert.equal(calls.sidebars.length, 0);
    assert.equal(calls.alerts.length, 1);
    assert.equal(calls.alerts[0].title, "Data-centric AI: Retrain model");
    assert.match(calls.alerts[0].prompt, failure.expect);
  });
}

test("the token never appears in a message", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: () => ({ status: 401, body: { error: "wrong token s3cret" } }),
  });
  context.retrainModel();
  assert.doesNotMatch(calls.alerts[0].prompt, /s3cret/);
});

test("without settings the actions say to open Settings and send nothing", () => {
  for (const [properties, expect] of [
    [{}, /^No bridge URL yet\. Open Data-centric AI > Settings/],
    [{ BRIDGE_URL: "https://bridge.example.org" }, /^You have no API token set\. Open Data-centric AI > Settings/],
    // A token an earlier version kept in script properties is everybody's: it is not used.
    [{ BRIDGE_URL: "https://bridge.example.org", BRIDGE_TOKEN: "shared" }, /^You have no API token set\./],
  ]) {
    const { context, calls } = load({ properties });
    context.refreshPredictions();
    assert.equal(calls.fetch.length, 0);
    assert.match(calls.alerts[0].prompt, expect);
  }
});

test("one person's token is not another's", () => {
  const alice = load({ properties: SETTINGS, userProperties: { BRIDGE_TOKEN: "alice-token" }, fetch: scriptedBridge("push", [{ state: "done" }]) });
  const bob = load({ properties: SETTINGS, fetch: scriptedBridge("push", [{ state: "done" }]) });
  alice.context.refreshPredictions();
  bob.context.refreshPredictions();
  assert.equal(alice.calls.fetch[0].params.headers.Authorization, "Bearer alice-token");
  assert.equal(bob.calls.fetch.length, 0);
  assert.match(bob.calls.alerts[0].prompt, /^You have no API token set/);
});

test("when no dialog can be shown, the failure is toasted instead of thrown", () => {
  const { context, calls } = load({ properties: SETTINGS, userProperties: MY_TOKEN, uiUnavailable: true });
  assert.doesNotThrow(() => context.retrainModel());
  assert.equal(calls.toasts.length, 1);
  assert.match(calls.toasts[0].msg, /^Cannot reach the bridge/);
});

test("an unexpected error inside an action is an alert, not a script error", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: () => ({ status: 202, body: { job: job() } }),
  });
  context.showJobSidebar_ = () => {
    throw new TypeError("boom");
  };
  assert.doesNotThrow(() => context.retrainModel());
  assert.equal(calls.alerts.length, 1);
  assert.equal(calls.alerts[0].prompt, "Unexpected error: boom");
});
