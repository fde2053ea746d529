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

test("the scopes are exactly the four the menu needs, none wider", () => {
  assert.deepEqual(manifest.oauthScopes.slice().sort(), [
    // showModalDialog, showSidebar, alert and prompt in the sheet that holds the script
    "https://www.googleapis.com/auth/script.container.ui",
    // UrlFetchApp
    "https://www.googleapis.com/auth/script.external_request",
    // filter views go through the Sheets API, which has no current-spreadsheet-only scope
    "https://www.googleapis.com/auth/spreadsheets",
    // the filter view's title names its owner (Session.getActiveUser().getEmail())
    "https://www.googleapis.com/auth/userinfo.email",
  ]);
});

test("the Sheets advanced service is turned on under the name Code.js uses", () => {
  assert.deepEqual(manifest.dependencies.enabledAdvancedServices, [
    { userSymbol: "Sheets", serviceId: "sheets", version: "v4" },
  ]);
  assert.match(code, /return Sheets;/);
});

test("the fetch allow-list holds the bridge URL placeholder that the renderer fills in", () => {
  assert.deepEqual(manifest.urlFetchWhitelist, ["https://YOUR-BRIDGE-HOST/"]);
  assert.match(code, /^const DEFAULT_BRIDGE_URL = "https:\/\/YOUR-BRIDGE-HOST";$/m);
});

test("Code.js uses only the services the scopes cover", () => {
  const services = new Set(code.match(/\b[A-Z][A-Za-z]+(App|Service)\b/g));
  assert.deepEqual([...services].sort(), ["HtmlService", "PropertiesService", "SpreadsheetApp", "UrlFetchApp"]);
  // Session: only the caller's e-mail (userinfo.email); no Drive, Gmail or script-wide services.
  const others = new Set(code.match(/\b(Session|Drive|Gmail|CacheService|LockService)\.[A-Za-z]+/g));
  assert.deepEqual([...others], ["Session.getActiveUser"]);
  // Spreadsheets are reached through the active one only, never opened by id or URL.
  assert.doesNotMatch(code, /openBy(Id|Url)|DriveApp|ScriptApp/);
});

test("Code.js keeps the token out of script properties (every editor can read those)", () => {
  assert.doesNotMatch(code, /getScriptProperties\(\)[^;]*setProperty\(TOKEN_PROPERTY/);
  assert.match(code, /getUserProperties\(\)\.getProperty\(TOKEN_PROPERTY\)/);
});

test("clasp pushes only the script, its sidebar and its manifest", () => {
  const clasp = JSON.parse(fs.readFileSync(path.join(ROOT, ".clasp.json.example"), "utf8"));
  assert.equal(clasp.rootDir, ".");
  const ignore = fs.readFileSync(path.join(ROOT, ".claspignore"), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(ignore, ["**/**", "!Code.js", "!Sidebar.html", "!appsscript.json"]);
});
