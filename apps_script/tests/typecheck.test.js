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
