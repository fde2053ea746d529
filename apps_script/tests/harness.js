"use strict";
// Loads Code.js into a fresh V8 context with stand-ins for the Apps Script services it uses
// (SpreadsheetApp, UrlFetchApp, PropertiesService, HtmlService, Session, the Sheets advanced
// service) and records what the script does with them: requests, toasts, alerts, prompts, dialogs,
// sidebars, filter views. runSidebar then runs a sidebar's page against the same script, with
// google.script.run calling the script's functions and timers on the stand-in clock.

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const ROOT = path.join(__dirname, "..");
const CODE_PATH = path.join(ROOT, "Code.js");

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
 * - properties: initial script properties (shared by everyone).
 * - userProperties: initial user properties (the caller's alone).
 * - user: the caller's e-mail address, as Session.getActiveUser().getEmail() gives it.
 * - spreadsheet: a shared {filterViews: [...], nextFilterViewId, batches: []} object, so that two
 *   loads (two people) see the same spreadsheet; created empty when absent.
 * - noSheetsService: the Sheets advanced service is not turned on.
 * - prompts: answers to ui.prompt in order, each {button, text}.
 * - sheets: [{name, rows}], the first is active.
 * - uiUnavailable: SpreadsheetApp.getUi() throws (as when run outside the sheet).
 * - code: source text to load instead of Code.js.
 */
function load(options = {}) {
  const calls = {
    fetch: [],
    toasts: [],
    alerts: [],
    prompts: [],
    dialogs: [],
    sidebars: [],
    menus: [],
    sleeps: [],
    logs: [],
    sheetsApi: [],
  };
  const properties = Object.assign({}, options.properties || {});
  const userProperties = Object.assign({}, options.userProperties || {});
  const state = options.spreadsheet || { filterViews: [], nextFilterViewId: 1000 };
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
    showSidebar(html) {
      calls.sidebars.push({ title: html.title, html: html.getContent() });
    },
  };

  const spreadsheet = {
    toast(msg, title, timeout) {
      calls.toasts.push({ msg, title, timeout });
    },
    getActiveSheet: () => sheets[0],
    getSheets: () => sheets.slice(),
    getId: () => "sheet-key-123",
    getUrl: () => "https://docs.google.com/spreadsheets/d/sheet-key-123/edit",
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
      getScriptProperties: () => propertyStore(properties),
      getUserProperties: () => propertyStore(userProperties),
    },
    HtmlService: {
      createHtmlOutput: htmlOutput,
      // Templates: only printing scriptlets (<?!= name ?>) of values set on the template.
      createTemplateFromFile(name) {
        const file = path.join(ROOT, name + ".html");
        const source = fs.readFileSync(file, "utf8");
        const template = {
          evaluate() {
            const text = source.replace(/<\?([!=]*)\s*([\s\S]*?)\s*\?>/g, (all, kind, name) => {
              if (kind !== "!=" || !Object.prototype.hasOwnProperty.call(template, name)) {
                throw new Error(`stand-in: unsupported scriptlet or unset value ${all} in ${name}.html`);
              }
              return String(template[name]);
            });
            return htmlOutput(text);
          },
        };
        return template;
      },
    },
    Session: {
      getActiveUser: () => ({ getEmail: () => (options.user === undefined ? "" : options.user) }),
    },
    Sheets: options.noSheetsService ? undefined : sheetsService(state, sheets, calls),
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
  return { context, calls, properties, userProperties, sheets, clock, spreadsheet: state };
}

function propertyStore(values) {
  return {
    getProperty: (k) => (Object.prototype.hasOwnProperty.call(values, k) ? values[k] : null),
    setProperty(k, v) {
      values[k] = String(v);
      return this;
    },
    deleteProperty(k) {
      delete values[k];
      return this;
    },
  };
}

function htmlOutput(content) {
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
    setTitle(t) {
      out.title = t;
      return out;
    },
  };
  return out;
}

/**
 * The Sheets advanced service, as far as filter views go: spreadsheets.get with a fields mask and
 * spreadsheets.batchUpdate with addFilterView / updateFilterView, checked as the API checks them.
 */
function sheetsService(state, sheets, calls) {
  const known = (sheetId) => sheets.some((s) => s.getSheetId() === sheetId);
  function checkFilter(filter) {
    if (!filter.range || !known(filter.range.sheetId)) throw new Error("API call to sheets.spreadsheets.batchUpdate failed with error: No grid with id");
    for (const spec of filter.sortSpecs || []) {
      if (!Number.isInteger(spec.dimensionIndex) || !["ASCENDING", "DESCENDING"].includes(spec.sortOrder)) {
        throw new Error("API call failed: invalid sortSpec " + JSON.stringify(spec));
      }
    }
  }
  return {
    Spreadsheets: {
      get(spreadsheetId, optionalArgs) {
        calls.sheetsApi.push({ method: "get", spreadsheetId, optionalArgs: JSON.parse(JSON.stringify(optionalArgs || {})) });
        return {
          sheets: sheets.map((s) => {
            const views = state.filterViews.filter((v) => v.range.sheetId === s.getSheetId());
            const out = { properties: { sheetId: s.getSheetId(), title: s.getName() } };
            if (views.length) out.filterViews = views.map((v) => JSON.parse(JSON.stringify(v)));
            return out;
          }),
        };
      },
      batchUpdate(body, spreadsheetId) {
        calls.sheetsApi.push({ method: "batchUpdate", spreadsheetId, body: JSON.parse(JSON.stringify(body)) });
        const replies = body.requests.map((request) => {
          const names = Object.keys(request);
          if (names.length !== 1) throw new Error("API call failed: one request kind per request");
          if (request.addFilterView) {
            const filter = JSON.parse(JSON.stringify(request.addFilterView.filter));
            checkFilter(filter);
            filter.filterViewId = state.nextFilterViewId++;
            state.filterViews.push(filter);
            return { addFilterView: { filter } };
          }
          if (request.updateFilterView) {
            const { filter, fields } = request.updateFilterView;
            const current = state.filterViews.find((v) => v.filterViewId === filter.filterViewId);
            if (!current) throw new Error("API call failed: No filter view with id " + filter.filterViewId);
            if (typeof fields !== "string" || !fields) throw new Error("API call failed: updateFilterView needs fields");
            checkFilter(Object.assign({}, current, filter));
            for (const field of fields.split(",")) current[field] = JSON.parse(JSON.stringify(filter[field]));
            return {};
          }
          throw new Error("stand-in: request kind not modelled: " + names[0]);
        });
        return { spreadsheetId, replies };
      },
    },
  };
}

/**
 * Run a sidebar's page (the HTML the script showed) against the same loaded script.
 *
 * The page's <script> runs in its own context with a stand-in document (the elements with an id),
 * setTimeout on the session's clock, and google.script.run calling the script's global functions
 * with JSON-copied arguments and results, as Apps Script does. Nothing runs until step() or
 * runUntilIdle(): each task (a timer or a server call's answer) runs in order.
 *
 * options.beforeTimer(ms): called before a timer fires (e.g. to wait for real).
 */
function runSidebar(session, html, options = {}) {
  const elements = {};
  for (const match of html.matchAll(/<(\w+)([^>]*)\sid="([^"]+)"([^>]*)>/g)) {
    const attrs = match[2] + match[4];
    const value = /\svalue="([^"]*)"/.exec(attrs);
    const cls = /\sclass="([^"]*)"/.exec(attrs);
    elements[match[3]] = {
      id: match[3],
      tag: match[1],
      textContent: "",
      hidden: /\shidden\b/.test(attrs),
      value: value ? Number(value[1]) : undefined,
      className: cls ? cls[1] : "",
    };
  }
  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  const tasks = [];
  const serverCalls = [];

  function runner(success, failure) {
    return new Proxy(
      {},
      {
        get(_target, name) {
          if (name === "withSuccessHandler") return (f) => runner(f, failure);
          if (name === "withFailureHandler") return (f) => runner(success, f);
          return (...args) => {
            serverCalls.push({ name, args });
            tasks.push({
              kind: "server",
              run() {
                const fn = session.context[name];
                // Apps Script runs only global functions whose names do not end in "_".
                if (typeof fn !== "function" || String(name).endsWith("_")) {
                  if (failure) failure(new Error("Script function not found: " + String(name)));
                  return;
                }
                let result;
                try {
                  result = fn(...JSON.parse(JSON.stringify(args)));
                } catch (e) {
                  if (failure) failure(new Error(e && e.message ? e.message : String(e)));
                  return;
                }
                if (success) success(result === undefined ? undefined : JSON.parse(JSON.stringify(result)));
              },
            });
          };
        },
      },
    );
  }

  const page = {
    document: {
      getElementById: (id) => {
        if (!elements[id]) throw new Error("stand-in: the page has no element #" + id);
        return elements[id];
      },
    },
    google: { script: { run: runner(null, null) } },
    setTimeout(fn, ms) {
      tasks.push({ kind: "timer", ms, run: fn });
      return tasks.length;
    },
    console: session.context.console,
  };
  vm.createContext(page);
  for (const script of scripts) vm.runInContext(script, page, { filename: "Sidebar.html" });

  const timers = [];
  function step() {
    const task = tasks.shift();
    if (!task) return false;
    if (task.kind === "timer") {
      timers.push(task.ms);
      if (options.beforeTimer) options.beforeTimer(task.ms);
      session.clock.now += task.ms;
    }
    task.run();
    return true;
  }
  function runUntilIdle(limit = 1000) {
    let n = 0;
    while (step()) {
      if (++n > limit) throw new Error("stand-in: the sidebar kept going after " + limit + " tasks");
    }
    return n;
  }
  /** The page's text as a person reads it. */
  function text(id) {
    return elements[id].hidden ? "" : elements[id].textContent;
  }
  return { elements, tasks, timers, serverCalls, step, runUntilIdle, text, page };
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

/** Script properties with the bridge URL, and a user's own token. */
const SETTINGS = { BRIDGE_URL: "https://bridge.example.org" };
const MY_TOKEN = { BRIDGE_TOKEN: "s3cret" };

module.exports = { load, runSidebar, job, httpResponse, Button, ButtonSet, SETTINGS, MY_TOKEN, CODE_PATH, ROOT };
