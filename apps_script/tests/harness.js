"use strict";
// Loads Code.js into a fresh V8 context with stand-ins for the Apps Script services it uses
// (SpreadsheetApp, UrlFetchApp, PropertiesService, HtmlService, Utilities) and records what the
// script does with them: requests, toasts, alerts, prompts, dialogs, sorts.

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const CODE_PATH = path.join(__dirname, "..", "Code.js");

const Button = Object.freeze({ OK: "OK", CANCEL: "CANCEL", YES: "YES", NO: "NO", CLOSE: "CLOSE" });
const ButtonSet = Object.freeze({ OK: "OK", OK_CANCEL: "OK_CANCEL", YES_NO: "YES_NO", YES_NO_CANCEL: "YES_NO_CANCEL" });

/** A response as UrlFetchApp returns it. */
function httpResponse(status, body) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return {
    getResponseCode: () => status,
    getContentText: () => text,
    getHeaders: () => ({ "Content-Type": "application/json" }),
  };
}

/** Header-row cell -> values: a grid stand-in for a Sheet (row 1 = header). */
class FakeSheet {
  constructor(name, rows, id) {
    this.name = name;
    this.rows = rows.map((r) => r.slice());
    this.id = id;
    this.sorts = [];
  }
  getName() {
    return this.name;
  }
  getSheetId() {
    return this.id;
  }
  getLastRow() {
    return this.rows.length;
  }
  getLastColumn() {
    return this.rows.reduce((m, r) => Math.max(m, r.length), 0);
  }
  getRange(row, column, numRows, numColumns) {
    if (![row, column, numRows, numColumns].every((n) => Number.isInteger(n) && n >= 1)) {
      throw new Error(`Exception: invalid range ${row},${column},${numRows},${numColumns}`);
    }
    const sheet = this;
    return {
      getRow: () => row,
      getColumn: () => column,
      getNumRows: () => numRows,
      getNumColumns: () => numColumns,
      getValues() {
        const out = [];
        for (let r = row; r < row + numRows; r++) {
          const src = sheet.rows[r - 1] || [];
          const line = [];
          for (let c = column; c < column + numColumns; c++) line.push(src[c - 1] === undefined ? "" : src[c - 1]);
          out.push(line);
        }
        return out;
      },
      // Range.sort({column, ascending}): column is the sheet's column number, and it must lie
      // inside the range, as in Apps Script.
      sort(spec) {
        const col = typeof spec === "number" ? spec : spec.column;
        const ascending = typeof spec === "object" && spec.ascending === false ? false : true;
        if (col < column || col >= column + numColumns) {
          throw new Error(`Exception: sort column ${col} is outside the range`);
        }
        sheet.sorts.push({ row, column, numRows, numColumns, spec });
        const block = sheet.rows.slice(row - 1, row - 1 + numRows);
        // Sheets puts empty cells last in either direction.
        block.sort((a, b) => {
          const x = a[col - 1];
          const y = b[col - 1];
          const ex = x === "" || x === undefined;
          const ey = y === "" || y === undefined;
          if (ex || ey) return ex === ey ? 0 : ex ? 1 : -1;
          const d = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? d : -d;
        });
        sheet.rows.splice(row - 1, numRows, ...block);
        return this;
      },
    };
  }
}

/**
 * Load Code.js with stand-ins.
 *
 * options:
 * - fetch(url, params) -> {status, body} | throws: the bridge (default: throws "no bridge").
 * - properties: initial script properties.
 * - prompts: answers to ui.prompt in order, each {button, text}.
 * - sheets: [{name, rows}], the first is active.
 * - uiUnavailable: SpreadsheetApp.getUi() throws (as when run outside the sheet).
 * - code: source text to load instead of Code.js.
 */
function load(options = {}) {
  const calls = { fetch: [], toasts: [], alerts: [], prompts: [], dialogs: [], menus: [], sleeps: [], logs: [] };
  const properties = Object.assign({}, options.properties || {});
  const prompts = (options.prompts || []).slice();
  const sheets = (options.sheets || [{ name: "Sheet1", rows: [] }]).map((s, i) => new FakeSheet(s.name, s.rows, i + 1));
  const clock = { now: 1_700_000_000_000 };

  const ui = {
    Button,
    ButtonSet,
    createMenu(caption) {
      const menu = { caption, items: [] };
      const builder = {
        addItem(name, fn) {
          menu.items.push({ name, fn });
          return builder;
        },
        addSeparator() {
          menu.items.push({ separator: true });
          return builder;
        },
        addToUi() {
          calls.menus.push(menu);
        },
      };
      return builder;
    },
    alert(...args) {
      const [title, prompt, buttons] = args.length === 3 ? args : [null, args[0], args[1]];
      calls.alerts.push({ title, prompt, buttons });
      return Button.OK;
    },
    prompt(title, prompt, buttons) {
      calls.prompts.push({ title, prompt, buttons });
      const answer = prompts.shift();
      if (!answer) throw new Error("test gave no answer for this prompt: " + prompt);
      return { getSelectedButton: () => answer.button, getResponseText: () => answer.text || "" };
    },
    showModalDialog(html, title) {
      calls.dialogs.push({ title, html: html.getContent(), width: html.width, height: html.height });
    },
  };

  const spreadsheet = {
    toast(msg, title, timeout) {
      calls.toasts.push({ msg, title, timeout });
    },
    getActiveSheet: () => sheets[0],
    getSheets: () => sheets.slice(),
  };

  const context = {
    SpreadsheetApp: {
      getUi() {
        if (options.uiUnavailable) throw new Error("Cannot call SpreadsheetApp.getUi() from this context.");
        return ui;
      },
      getActiveSpreadsheet: () => spreadsheet,
    },
    UrlFetchApp: {
      fetch(url, params) {
        const request = { url, params: JSON.parse(JSON.stringify(params || {})), at: clock.now };
        calls.fetch.push(request);
        // A script that never stops polling ends here instead of hanging the test run.
        if (calls.fetch.length > 500) throw new Error("stand-in: more than 500 requests in one action");
        const bridge = options.fetch || (() => { throw new Error("Address unavailable: " + url); });
        const answer = bridge(url, request.params, calls.fetch.length - 1);
        return httpResponse(answer.status, answer.body);
      },
    },
    PropertiesService: {
      getScriptProperties: () => ({
        getProperty: (k) => (Object.prototype.hasOwnProperty.call(properties, k) ? properties[k] : null),
        setProperty(k, v) {
          properties[k] = String(v);
          return this;
        },
        deleteProperty(k) {
          delete properties[k];
          return this;
        },
      }),
    },
    HtmlService: {
      createHtmlOutput(content) {
        const out = {
          content: String(content),
          getContent: () => out.content,
          setWidth(w) {
            out.width = w;
            return out;
          },
          setHeight(h) {
            out.height = h;
            return out;
          },
        };
        return out;
      },
    },
    Utilities: {
      sleep(ms) {
        calls.sleeps.push(ms);
        clock.now += ms;
        if (options.onSleep) options.onSleep(ms);
      },
    },
    console: { log: (...a) => calls.logs.push(a.join(" ")), error: (...a) => calls.logs.push(a.join(" ")) },
  };
  vm.createContext(context);
  // Time in the script is the stand-in clock, so waiting for a job takes no real time.
  context.__clock = clock;
  vm.runInContext("Date.now = function () { return __clock.now; };", context);
  vm.runInContext(options.code || fs.readFileSync(CODE_PATH, "utf8"), context, { filename: "Code.js" });
  return { context, calls, properties, sheets, clock };
}

/** A JOB object as the bridge's JSON API returns it. */
function job(fields = {}) {
  return Object.assign(
    {
      id: "job-1",
      kind: "retrain",
      state: "queued",
      step: "",
      progress: 0,
      message: "",
      error: null,
      result: null,
      started: null,
      finished: null,
    },
    fields,
  );
}

const SETTINGS = { BRIDGE_URL: "https://bridge.example.org", BRIDGE_TOKEN: "s3cret" };

module.exports = { load, job, httpResponse, Button, ButtonSet, SETTINGS, CODE_PATH };
