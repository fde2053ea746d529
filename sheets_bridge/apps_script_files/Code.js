/**
 * sheets-bridge: the sheet's "Data-centric AI" menu.
 *
 * The menu asks the bridge (`sheets-bridge serve`, reachable over HTTPS) to retrain the model,
 * refresh the predictions in this sheet (push) or apply the reviewers' decisions (pull), and shows
 * the job's progress with toasts. It also sorts the rows for review and links to the UMAP view.
 *
 * The bridge URL and API token are kept in script properties (Data-centric AI > Settings), never
 * in this file. Every failure ends as a message in the sheet, never as a script error.
 */

/** Filled in by `sheets-bridge apps-script --url URL`; Settings overrides it. */
const DEFAULT_BRIDGE_URL = "https://YOUR-BRIDGE-HOST";

const MENU_NAME = "Data-centric AI";
const URL_PROPERTY = "BRIDGE_URL";
const TOKEN_PROPERTY = "BRIDGE_TOKEN";
/** Marks the unfilled template URL, so the menu can say "open Settings" instead of failing. */
const PLACEHOLDER_HOST = "YOUR-BRIDGE-HOST";
/** The review-order column written by a push (1 = look first). */
const RANK_COLUMN = "rank";
/** Seconds between two job-status requests: frequent enough for a progress toast. */
const POLL_SECONDS = 3;
/** Stop waiting well before Apps Script's 6-minute execution limit; the job goes on regardless. */
const MAX_WAIT_SECONDS = 300;
/** Consecutive failed status requests tolerated while waiting (a tunnel may hiccup). */
const MAX_POLL_FAILURES = 3;

/**
 * A job as the bridge's JSON API describes it.
 * @typedef {Object} Job
 * @property {string} id
 * @property {string} kind "retrain", "push" or "pull"
 * @property {string} state "queued", "running", "done" or "failed"
 * @property {string} step
 * @property {number} progress 0..1
 * @property {string} message
 * @property {?string} error
 * @property {?Object} result
 * @property {?number} started
 * @property {?number} finished
 */

/**
 * Where the bridge is and how to authenticate to it.
 * @typedef {Object} Settings
 * @property {string} url base URL without a trailing slash
 * @property {string} token
 */

/** A failure the user can act on; its message is shown as it is. */
class BridgeFailure extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "BridgeFailure";
  }
}

/**
 * Simple trigger: adds the menu. It may not call services that need authorisation.
 * @param {GoogleAppsScript.Events.SheetsOnOpen=} _event
 */
function onOpen(_event) {
  SpreadsheetApp.getUi()
    .createMenu(MENU_NAME)
    .addItem("Retrain model", "retrainModel")
    .addItem("Refresh predictions (push)", "refreshPredictions")
    .addItem("Apply overrides (pull)", "applyOverrides")
    .addSeparator()
    .addItem("Sort by disagreement", "sortByDisagreement")
    .addItem("Open UMAP view", "openUmapView")
    .addSeparator()
    .addItem("Settings", "openSettings")
    .addToUi();
}

/** Menu: pull the decisions, train on the new version, push fresh predictions (one job). */
function retrainModel() {
  runJob_("retrain", "Retrain model");
}

/** Menu: write the latest run's predictions and scores into the sheet (push). */
function refreshPredictions() {
  runJob_("push", "Refresh predictions");
}

/** Menu: read the reviewers' decisions and make a new dataset version (pull). */
function applyOverrides() {
  runJob_("pull", "Apply overrides");
}

/** Menu: sort the data rows by the `rank` column, header row kept in place. */
function sortByDisagreement() {
  const title = "Sort by disagreement";
  guard_(title, function () {
    const spreadsheet = SpreadsheetApp.getActiveSpreadsheet();
    const sheet = findRankedSheet_(spreadsheet);
    const lastRow = sheet.getLastRow();
    const lastColumn = sheet.getLastColumn();
    const header = sheet.getRange(1, 1, 1, lastColumn).getValues()[0];
    const rankColumn = columnNumber_(header, RANK_COLUMN);
    if (lastRow < 3) {
      toast_("Nothing to sort: the sheet has " + Math.max(lastRow - 1, 0) + " data row(s).", title);
      return;
    }
    // Rows 2..lastRow only: the header stays on top whatever the frozen-row setting is.
    sheet.getRange(2, 1, lastRow - 1, lastColumn).sort({ column: rankColumn, ascending: true });
    toast_("Sorted " + (lastRow - 1) + " rows by rank: row 2 is the one to review first.", title);
  });
}

/** Menu: a dialog with a link to the bridge's interactive UMAP view. */
function openUmapView() {
  const title = "Open UMAP view";
  guard_(title, function () {
    const settings = readSettings_();
    const status = callBridge_(settings, "get", "/api/status");
    const link = umapLink_(settings.url, status["umap_url"]);
    const lines = [
      '<p style="font-family:sans-serif"><a href="' +
        escapeHtml_(link) +
        '" target="_blank" rel="noopener">Open the UMAP view</a> (a new tab)</p>',
    ];
    const run = status["run"];
    if (run && typeof run === "object") {
      lines.push(
        '<p style="font-family:sans-serif;color:#555">Dataset ' +
          escapeHtml_(String(status["version"])) +
          ", model run " +
          escapeHtml_(String(run["id"])) +
          ", validation accuracy " +
          formatPercent_(run["val_accuracy"]) +
          "</p>",
      );
    }
    const html = HtmlService.createHtmlOutput(lines.join("\n")).setWidth(420).setHeight(140);
    SpreadsheetApp.getUi().showModalDialog(html, "UMAP view");
  });
}

/** Menu: ask for the bridge URL and API token; store them as script properties. */
function openSettings() {
  const title = "Settings";
  guard_(title, function () {
    const ui = SpreadsheetApp.getUi();
    const properties = PropertiesService.getScriptProperties();
    const currentUrl = properties.getProperty(URL_PROPERTY) || DEFAULT_BRIDGE_URL;
    const hasToken = Boolean(properties.getProperty(TOKEN_PROPERTY));

    const urlAnswer = ui.prompt(
      MENU_NAME + " settings",
      "Bridge URL (HTTPS). Now: " + currentUrl + "\nLeave empty to keep it.",
      ui.ButtonSet.OK_CANCEL,
    );
    if (urlAnswer.getSelectedButton() !== ui.Button.OK) {
      return;
    }
    const typedUrl = urlAnswer.getResponseText().trim();
    const url = typedUrl ? normaliseUrl_(typedUrl) : currentUrl;

    const tokenAnswer = ui.prompt(
      MENU_NAME + " settings",
      "API token: the `token` in the bridge's sheets-bridge.toml (or SHEETS_BRIDGE_TOKEN). " +
        (hasToken ? "A token is set; leave empty to keep it." : "No token is set yet."),
      ui.ButtonSet.OK_CANCEL,
    );
    if (tokenAnswer.getSelectedButton() !== ui.Button.OK) {
      return;
    }
    const token = tokenAnswer.getResponseText().trim();

    properties.setProperty(URL_PROPERTY, url);
    if (token) {
      properties.setProperty(TOKEN_PROPERTY, token);
    }
    // Check the new settings at once, so a wrong URL or token shows up here, not mid-review.
    const status = callBridge_(readSettings_(), "get", "/api/status");
    toast_(
      "Saved. The bridge answers: dataset " +
        String(status["version"]) +
        ", " +
        String(status["images"]) +
        " images.",
      title,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Jobs

/**
 * Start a job on the bridge and follow it with toasts until it ends (or until we stop waiting).
 * @param {string} kind "retrain", "push" or "pull"
 * @param {string} title what the menu item is called, shown on every message
 */
function runJob_(kind, title) {
  guard_(title, function () {
    const settings = readSettings_();
    const started = callBridge_(settings, "post", "/api/" + kind, {});
    const job = asJob_(started["job"]);
    if (!job) {
      throw new BridgeFailure("The bridge accepted the request but named no job: " + preview_(JSON.stringify(started)));
    }
    toast_("Started job " + job.id + ".", title);
    const last = waitForJob_(settings, job, title);
    if (last.state === "done") {
      toast_("Done. " + (last.message || ""), title, 10);
    } else if (last.state === "failed") {
      alert_(title, "Job " + last.id + " failed: " + (last.error || last.message || "no reason given") + ".");
    } else {
      alert_(
        title,
        "Job " +
          last.id +
          " is still " +
          describeProgress_(last) +
          " on the bridge after " +
          Math.round(MAX_WAIT_SECONDS / 60) +
          " minutes. It goes on without this dialog; the sheet changes when it ends.",
      );
    }
  });
}

/**
 * Poll the job's status until it is done or failed, toasting each change of step or progress.
 * @param {Settings} settings
 * @param {Job} job the job as the start request returned it
 * @param {string} title
 * @returns {Job} the last state seen
 */
function waitForJob_(settings, job, title) {
  const deadline = Date.now() + MAX_WAIT_SECONDS * 1000;
  let current = job;
  let shown = "";
  let failures = 0;
  while (current.state !== "done" && current.state !== "failed") {
    if (Date.now() >= deadline) {
      return current;
    }
    const progress = describeProgress_(current);
    if (progress !== shown) {
      toast_("Job " + current.id + ": " + progress, title, POLL_SECONDS * 2);
      shown = progress;
    }
    Utilities.sleep(POLL_SECONDS * 1000);
    try {
      const polled = asJob_(callBridge_(settings, "get", "/api/jobs/" + encodeURIComponent(current.id))["job"]);
      if (!polled) {
        throw new BridgeFailure("the bridge's answer names no job");
      }
      current = polled;
      failures = 0;
    } catch (e) {
      failures += 1;
      if (failures >= MAX_POLL_FAILURES) {
        throw new BridgeFailure(
          "Lost track of job " + current.id + " (it may still be running on the bridge): " + errorText_(e),
        );
      }
    }
  }
  return current;
}

/**
 * The job object from an API answer, or null when the answer has none.
 * @param {*} value
 * @returns {?Job}
 */
function asJob_(value) {
  if (!value || typeof value !== "object" || typeof value["id"] !== "string" || typeof value["state"] !== "string") {
    return null;
  }
  return /** @type {Job} */ (value);
}

/**
 * "running, train 45%" in words.
 * @param {Job} job
 * @returns {string}
 */
function describeProgress_(job) {
  const parts = [job.state];
  if (job.step) {
    parts.push(job.step);
  }
  if (typeof job.progress === "number" && job.state === "running") {
    parts.push(formatPercent_(job.progress));
  }
  return parts.join(", ");
}

// ---------------------------------------------------------------------------------------------
// The bridge's JSON API

/**
 * The bridge URL and token from script properties; a clear failure when either is missing.
 * @returns {Settings}
 */
function readSettings_() {
  const properties = PropertiesService.getScriptProperties();
  const url = (properties.getProperty(URL_PROPERTY) || DEFAULT_BRIDGE_URL).replace(/\/+$/, "");
  const token = properties.getProperty(TOKEN_PROPERTY) || "";
  if (url.indexOf(PLACEHOLDER_HOST) !== -1) {
    throw new BridgeFailure("No bridge URL yet. Open " + MENU_NAME + " > Settings and enter it.");
  }
  if (!token) {
    throw new BridgeFailure(
      "No API token yet. Open " + MENU_NAME + " > Settings and paste the `token` from the bridge's sheets-bridge.toml.",
    );
  }
  return { url: url, token: token };
}

/**
 * Call the bridge and return its JSON object, or throw a BridgeFailure that says what to do.
 * @param {Settings} settings
 * @param {GoogleAppsScript.URL_Fetch.HttpMethod} method
 * @param {string} path starts with "/api/"
 * @param {Object=} body sent as JSON with a POST
 * @returns {Object<string, *>}
 */
function callBridge_(settings, method, path, body) {
  /** @type {GoogleAppsScript.URL_Fetch.URLFetchRequestOptions} */
  const options = {
    method: method,
    headers: { Authorization: "Bearer " + settings.token, Accept: "application/json" },
    // Error statuses come back as responses, so each one gets its own message below.
    muteHttpExceptions: true,
  };
  if (method === "post") {
    options.contentType = "application/json";
    options.payload = JSON.stringify(body || {});
  }
  const url = settings.url + path;
  let response;
  try {
    response = UrlFetchApp.fetch(url, options);
  } catch (e) {
    throw new BridgeFailure(
      "Cannot reach the bridge at " +
        settings.url +
        " (" +
        errorText_(e) +
        "). Is `sheets-bridge serve` running and reachable over HTTPS? Check the URL in " +
        MENU_NAME +
        " > Settings.",
    );
  }
  const status = response.getResponseCode();
  const text = response.getContentText();
  const data = parseJsonObject_(text);
  if (status >= 200 && status < 300) {
    if (!data) {
      throw new BridgeFailure(
        "The answer from " + url + " is not JSON (is the URL the bridge's, not a login page?): " + preview_(text),
      );
    }
    return data;
  }
  throw new BridgeFailure(describeHttpError_(status, data, text, url));
}

/**
 * One sentence for a failed API call, with what to do about it.
 * @param {number} status
 * @param {?Object<string, *>} data the JSON body, when it was JSON
 * @param {string} text the raw body
 * @param {string} url
 * @returns {string}
 */
function describeHttpError_(status, data, text, url) {
  const reason = data && typeof data["error"] === "string" ? data["error"] : preview_(text);
  if (status === 401 || status === 403) {
    return (
      "The bridge refused the API token (HTTP " +
      status +
      "). Open " +
      MENU_NAME +
      " > Settings and paste the `token` from the bridge's sheets-bridge.toml."
    );
  }
  if (status === 409) {
    const running = data ? asJob_(data["job"]) : null;
    const id = running ? running.id : data && typeof data["job"] === "string" ? data["job"] : "unknown";
    const detail = running ? " (" + running.kind + ", " + describeProgress_(running) + ")" : "";
    return "Another job is already running on the bridge: job " + id + detail + ". Wait for it to end, then try again.";
  }
  if (status === 404) {
    return "The bridge has no " + url + " (HTTP 404: " + reason + "). Is the URL in Settings the bridge's base URL?";
  }
  if (status >= 500) {
    return (
      "The bridge failed (HTTP " + status + "): " + reason + ". See the bridge's log; the sheet was not changed by this call."
    );
  }
  return "The bridge refused the request (HTTP " + status + "): " + reason + ".";
}

// ---------------------------------------------------------------------------------------------
// The sheet

/**
 * The active sheet when it has a `rank` column, else the first sheet whose header has one.
 * @param {GoogleAppsScript.Spreadsheet.Spreadsheet} spreadsheet
 * @returns {GoogleAppsScript.Spreadsheet.Sheet}
 */
function findRankedSheet_(spreadsheet) {
  const active = spreadsheet.getActiveSheet();
  const candidates = [active].concat(
    spreadsheet.getSheets().filter(function (sheet) {
      return sheet.getSheetId() !== active.getSheetId();
    }),
  );
  for (let i = 0; i < candidates.length; i++) {
    const sheet = candidates[i];
    const lastColumn = sheet.getLastColumn();
    if (lastColumn > 0 && findColumn_(sheet.getRange(1, 1, 1, lastColumn).getValues()[0], RANK_COLUMN) > 0) {
      return sheet;
    }
  }
  throw new BridgeFailure(
    "No sheet has a `" + RANK_COLUMN + "` column in its header row. Run " + MENU_NAME + " > Refresh predictions first.",
  );
}

/**
 * 1-based position of a header cell, matched by name (trimmed, any case); 0 when absent.
 * @param {Array<*>} header
 * @param {string} name
 * @returns {number}
 */
function findColumn_(header, name) {
  for (let i = 0; i < header.length; i++) {
    if (String(header[i]).trim().toLowerCase() === name) {
      return i + 1;
    }
  }
  return 0;
}

/**
 * Like findColumn_, but a missing column is a failure the user can fix.
 * @param {Array<*>} header
 * @param {string} name
 * @returns {number}
 */
function columnNumber_(header, name) {
  const column = findColumn_(header, name);
  if (!column) {
    throw new BridgeFailure("The header row has no `" + name + "` column.");
  }
  return column;
}

// ---------------------------------------------------------------------------------------------
// Messages

/**
 * Run a menu action; whatever goes wrong becomes a message in the sheet, never a script error.
 * @param {string} title
 * @param {() => void} action
 */
function guard_(title, action) {
  try {
    action();
  } catch (e) {
    const message = e instanceof BridgeFailure ? e.message : "Unexpected error: " + errorText_(e);
    alert_(title, message);
  }
}

/**
 * A modal message; falls back to a toast, then to the log, where no dialog can be shown.
 * @param {string} title
 * @param {string} message
 */
function alert_(title, message) {
  try {
    const ui = SpreadsheetApp.getUi();
    ui.alert(MENU_NAME + ": " + title, message, ui.ButtonSet.OK);
  } catch (e) {
    try {
      toast_(message, title, 30);
    } catch (ignored) {
      console.error(title + ": " + message);
    }
  }
}

/**
 * A toast in the corner of the sheet.
 * @param {string} message
 * @param {string} title
 * @param {number=} seconds
 */
function toast_(message, title, seconds) {
  SpreadsheetApp.getActiveSpreadsheet().toast(message, MENU_NAME + ": " + title, seconds || 5);
}

/**
 * An absolute http(s) link to the UMAP view; the bridge's own answer wins when it is usable.
 * @param {string} base
 * @param {*} reported
 * @returns {string}
 */
function umapLink_(base, reported) {
  if (typeof reported === "string" && /^https?:\/\//i.test(reported)) {
    return reported;
  }
  if (typeof reported === "string" && reported.charAt(0) === "/") {
    return base + reported;
  }
  return base + "/umap";
}

/**
 * The URL typed in Settings, checked: HTTPS (Apps Script fetches only allow-listed HTTPS URLs).
 * @param {string} typed
 * @returns {string}
 */
function normaliseUrl_(typed) {
  const url = typed.replace(/\/+$/, "");
  if (!/^https:\/\/[^\s/?#"'<>\\]+(\/[^\s?#"'<>\\]*)?$/i.test(url)) {
    throw new BridgeFailure(
      "Not a usable bridge URL: " +
        preview_(typed) +
        ". It must start with https:// (Apps Script only fetches HTTPS); nothing was saved.",
    );
  }
  return "https://" + url.slice("https://".length);
}

/**
 * @param {string} text
 * @returns {?Object<string, *>} the parsed object, or null when the text is not a JSON object
 */
function parseJsonObject_(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch (e) {
    return null;
  }
}

/**
 * @param {*} value a fraction 0..1
 * @returns {string}
 */
function formatPercent_(value) {
  return typeof value === "number" && isFinite(value) ? Math.round(value * 100) + "%" : "unknown";
}

/**
 * The first characters of a body, on one line, for a message.
 * @param {string} text
 * @returns {string}
 */
function preview_(text) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > 160 ? flat.slice(0, 160) + "..." : flat || "(empty)";
}

/**
 * @param {*} error
 * @returns {string}
 */
function errorText_(error) {
  return error && typeof error === "object" && "message" in error ? String(error.message) : String(error);
}

/**
 * @param {string} text
 * @returns {string}
 */
function escapeHtml_(text) {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}
