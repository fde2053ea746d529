"use strict";
// The job sidebar (Sidebar.html): its page runs against Code.js, polling through google.script.run
// and pollJob, on the stand-in clock, until the job ends.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, runSidebar, job, SETTINGS, MY_TOKEN } = require("./harness");

/**
 * Start a retrain from the menu and open its sidebar page. `bridge(now, pollIndex)` answers each
 * status request (the clock lets a job "take" minutes).
 */
function startRetrain(bridge, startState = { state: "queued" }) {
  let polls = 0;
  const session = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: (url, params) => {
      if (params.method === "post") return { status: 202, body: { job: job(startState) } };
      assert.equal(url, "https://bridge.example.org/api/jobs/job-1");
      return bridge(session.clock.now - t0, polls++);
    },
  });
  const t0 = session.clock.now;
  session.context.retrainModel();
  assert.equal(session.calls.sidebars.length, 1);
  const sidebar = runSidebar(session, session.calls.sidebars[0].html);
  return { session, sidebar, t0 };
}

const running = (fields) => ({ status: 200, body: { job: job(Object.assign({ state: "running" }, fields)) } });

test("the sidebar shows the job's progress at each poll and stops when it is done", () => {
  const answers = [
    running({ step: "pull", progress: 0.1 }),
    running({ step: "train", progress: 0.5, message: "fold 2 of 4" }),
    { status: 200, body: { job: job({ state: "done", step: "push", progress: 1, message: "v0003: val accuracy 81%" }) } },
  ];
  const { sidebar, session } = startRetrain((_, i) => answers[i]);
  assert.equal(sidebar.text("job"), "job-1");
  assert.equal(sidebar.text("state"), "queued");
  const seen = [];
  while (sidebar.step()) {
    seen.push([sidebar.text("state"), sidebar.elements.bar.value, sidebar.text("detail")]);
  }
  // Each poll is a timer, then the server call's answer.
  assert.deepEqual(seen.filter((_, i) => i % 2 === 1), [
    ["running, pull, 10%", 0.1, ""],
    ["running, train, 50%", 0.5, "fold 2 of 4"],
    ["Done. v0003: val accuracy 81%", 1, ""],
  ]);
  assert.deepEqual(sidebar.timers, [3000, 3000, 3000]);
  assert.deepEqual(sidebar.serverCalls.map((c) => [c.name, c.args]), [
    ["pollJob", ["job-1"]],
    ["pollJob", ["job-1"]],
    ["pollJob", ["job-1"]],
  ]);
  assert.equal(sidebar.elements.state.className, "done");
  assert.equal(sidebar.text("problem"), "");
  assert.match(sidebar.text("hint"), /has ended/);
  assert.equal(sidebar.tasks.length, 0, "nothing polls after the end");
  assert.equal(session.calls.alerts.length, 0);
});

test("a retrain that takes 12 minutes is followed to its end (no 6-minute limit)", () => {
  const { sidebar, t0, session } = startRetrain((elapsed) =>
    elapsed < 12 * 60_000
      ? running({ step: "train", progress: elapsed / (12 * 60_000) })
      : { status: 200, body: { job: job({ state: "done", progress: 1, message: "v0002" }) } },
  );
  sidebar.runUntilIdle();
  assert.equal(sidebar.text("state"), "Done. v0002");
  assert.ok(session.clock.now - t0 >= 12 * 60_000);
  // Every poll was its own short server call.
  assert.equal(sidebar.serverCalls.length, 240); // one every 3 s for 12 minutes
});

test("a failed job shows the bridge's error and polling stops", () => {
  const { sidebar } = startRetrain(() => ({
    status: 200,
    body: { job: job({ state: "failed", error: "SheetError: the sheet has no 'id' column" }) },
  }));
  sidebar.runUntilIdle();
  assert.equal(sidebar.text("state"), "Failed: SheetError: the sheet has no 'id' column.");
  assert.equal(sidebar.elements.state.className, "failed");
  assert.equal(sidebar.serverCalls.length, 1);
});

test("a job that ended before the sidebar opened is shown without polling", () => {
  const { sidebar } = startRetrain(() => assert.fail("no poll expected"), { state: "done", message: "quick" });
  assert.equal(sidebar.text("state"), "Done. quick");
  assert.equal(sidebar.runUntilIdle(), 0);
});

test("a few failed polls are shown and retried; the next answer clears them", () => {
  const answers = [
    () => {
      throw new Error("Timeout");
    },
    () => ({ status: 502, body: "<html>Bad gateway</html>" }),
    () => running({ step: "train", progress: 0.4 }),
    () => ({ status: 200, body: { job: job({ state: "done", message: "ok" }) } }),
  ];
  const { sidebar } = startRetrain((_, i) => answers[i]());
  const problems = [];
  while (sidebar.step()) problems.push(sidebar.text("problem"));
  const shown = problems.filter((p, i) => p && p !== problems[i - 1]);
  assert.equal(shown.length, 2);
  assert.match(shown[0], /^Cannot reach the bridge at https:\/\/bridge\.example\.org \(Timeout\).* Trying again\.$/);
  assert.match(shown[1], /HTTP 502.* Trying again\.$/);
  assert.equal(sidebar.text("problem"), "");
  assert.equal(sidebar.text("state"), "Done. ok");
});

test("after three failed polls in a row the sidebar says it lost track and stops", () => {
  const { sidebar } = startRetrain(() => ({ status: 503, body: "Service Unavailable" }));
  sidebar.runUntilIdle();
  assert.equal(sidebar.serverCalls.length, 3);
  assert.match(sidebar.text("problem"), /^Lost track of job job-1 \(it may still be running on the bridge\): The bridge failed \(HTTP 503\)/);
  assert.equal(sidebar.text("state"), "queued");
});

test("a script error in the poll reaches the page's failure handler and is retried", () => {
  const { sidebar, session } = startRetrain(() => running({ step: "train", progress: 0.2 }));
  const realPoll = session.context.pollJob;
  let broken = 1;
  session.context.pollJob = (id) => {
    if (broken-- > 0) throw new Error("Service invoked too many times");
    return realPoll(id);
  };
  sidebar.step();
  sidebar.step();
  assert.equal(sidebar.text("problem"), "Service invoked too many times Trying again.");
  sidebar.step();
  sidebar.step();
  assert.equal(sidebar.text("problem"), "");
  assert.equal(sidebar.text("state"), "running, train, 20%");
});

test("the token never reaches the sidebar's page", () => {
  const { sidebar, session } = startRetrain(() => running({ step: "train", progress: 0.2 }));
  sidebar.step();
  sidebar.step();
  assert.doesNotMatch(session.calls.sidebars[0].html, /s3cret/);
  assert.doesNotMatch(JSON.stringify(sidebar.elements), /s3cret/);
  assert.doesNotMatch(JSON.stringify(sidebar.serverCalls), /s3cret/);
});
