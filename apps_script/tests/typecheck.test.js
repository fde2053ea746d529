"use strict";
// Code.js is type-checked against @types/google-apps-script, so a misspelled Apps Script
// service, method or option fails the tests here instead of in the sheet.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const ROOT = path.join(__dirname, "..");
const TSC = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");

function tsc(project) {
  assert.ok(fs.existsSync(TSC), "TypeScript is not installed: run `npm ci` in apps_script/");
  return spawnSync(process.execPath, [TSC, "-p", project], { encoding: "utf8", timeout: 120_000 });
}

test("Code.js type-checks against the Apps Script API (tsc -p apps_script)", () => {
  const result = tsc(ROOT);
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("the type-check fails on a misspelled service method and a misspelled fetch option", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apps-script-typecheck-"));
  try {
    const code = fs
      .readFileSync(path.join(ROOT, "Code.js"), "utf8")
      .replace(".createMenu(MENU_NAME)", ".createMenuu(MENU_NAME)")
      .replace("muteHttpExceptions: true", "muteHttpException: true");
    fs.writeFileSync(path.join(dir, "Code.js"), code);
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({ extends: path.join(ROOT, "tsconfig.json"), files: ["Code.js"] }),
    );
    const result = tsc(dir);
    assert.notEqual(result.status, 0);
    assert.match(result.stdout, /Property 'createMenuu' does not exist on type 'Ui'/);
    assert.match(result.stdout, /'muteHttpException' does not exist in type 'URLFetchRequestOptions'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The sidebar's page script (in Sidebar.html) is type-checked against the DOM and a declaration
// of google.script.run that names the server functions it may call.
const SIDEBAR_GLOBALS = `
interface ScriptRun {
  withSuccessHandler(handler: (value: any) => void): ScriptRun;
  withFailureHandler(handler: (error: Error) => void): ScriptRun;
  /** Code.js: the job's state, read with the caller's token. */
  pollJob(jobId: string): void;
}
declare const google: { script: { run: ScriptRun } };
`;

function checkSidebar(html) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apps-script-sidebar-"));
  try {
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    assert.equal(scripts.length, 1);
    // The printing scriptlet becomes a value of unknown shape, as the page sees it.
    const page = scripts[0].replace("<?!= start ?>", "JSON.parse('{}')");
    assert.notEqual(page, scripts[0], "Sidebar.html has no START scriptlet");
    assert.doesNotMatch(page, /<\?/, "an unexpected scriptlet in Sidebar.html");
    fs.writeFileSync(path.join(dir, "sidebar.js"), page);
    fs.writeFileSync(path.join(dir, "globals.d.ts"), SIDEBAR_GLOBALS);
    fs.writeFileSync(
      path.join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          allowJs: true,
          checkJs: true,
          noEmit: true,
          strict: true,
          lib: ["ES2019", "DOM"],
          types: [],
        },
        files: ["sidebar.js", "globals.d.ts"],
      }),
    );
    return tsc(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("the sidebar's script type-checks against the DOM and the server functions it calls", () => {
  const result = checkSidebar(fs.readFileSync(path.join(ROOT, "Sidebar.html"), "utf8"));
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test("the sidebar's type-check fails on a misspelled DOM method or server function", () => {
  const html = fs
    .readFileSync(path.join(ROOT, "Sidebar.html"), "utf8")
    .replace("var element = document.getElementById(id);", "var element = document.getElementByID(id);")
    .replace(".pollJob(START.job.id)", ".pollJobs(START.job.id)");
  const result = checkSidebar(html);
  assert.notEqual(result.status, 0);
  assert.match(result.stdout, /Property 'getElementByID' does not exist on type 'Document'/);
  assert.match(result.stdout, /Property 'pollJobs' does not exist on type 'ScriptRun'/);
});
