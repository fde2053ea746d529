"use strict";
// appsscript.json: V8, the narrowest scopes for what Code.js does, and the fetch allow-list.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "appsscript.json"), "utf8"));
const code = fs.readFileSync(path.join(ROOT, "Code.js"), "utf8");

test("the manifest asks for the V8 runtime and logs exceptions", () => {
  assert.equal(manifest.runtimeVersion, "V8");
  assert.equal(typeof manifest.timeZone, "string");
  assert.equal(manifest.exceptionLogging, "STACKDRIVER");
});

test("the scopes are exactly the three the menu needs, none wider", () => {
  assert.deepEqual(manifest.oauthScopes.slice().sort(), [
    // showModalDialog, alert and prompt in the sheet that holds the script
    "https://www.googleapis.com/auth/script.container.ui",
    // UrlFetchApp
    "https://www.googleapis.com/auth/script.external_request",
    // toasts and sorting in this spreadsheet only (not every spreadsheet of the user)
    "https://www.googleapis.com/auth/spreadsheets.currentonly",
  ]);
});

test("the fetch allow-list holds the bridge URL placeholder that the renderer fills in", () => {
  assert.deepEqual(manifest.urlFetchWhitelist, ["https://YOUR-BRIDGE-HOST/"]);
  assert.match(code, /^const DEFAULT_BRIDGE_URL = "https:\/\/YOUR-BRIDGE-HOST";$/m);
});

test("Code.js uses only the services the scopes cover", () => {
  const services = new Set(code.match(/\b[A-Z][A-Za-z]+(App|Service)\b/g));
  assert.deepEqual([...services].sort(), ["HtmlService", "PropertiesService", "SpreadsheetApp", "UrlFetchApp"]);
  // openById / openByUrl would need the wider spreadsheets scope.
  assert.doesNotMatch(code, /openBy(Id|Url)|DriveApp|ScriptApp/);
});

test("clasp pushes only the script and its manifest", () => {
  const clasp = JSON.parse(fs.readFileSync(path.join(ROOT, ".clasp.json.example"), "utf8"));
  assert.equal(clasp.rootDir, ".");
  const ignore = fs.readFileSync(path.join(ROOT, ".claspignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(ignore, ["**/**", "!Code.js", "!appsscript.json"]);
});
