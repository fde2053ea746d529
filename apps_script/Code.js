/**
 * sheets-bridge: the sheet's "Data-centric AI" menu.
 *
 * The menu asks the bridge (`sheets-bridge serve`, reachable over HTTPS) to retrain the model,
 * refresh the predictions in this sheet (push) or apply the reviewers' decisions (pull), and shows
 * the job's progress in a sidebar (Sidebar.html) that follows it until it ends. It also opens a
 * review order of one's own (a filter view sorted by rank) and links to the UMAP view.
 *
 * The bridge URL is a script property (shared by everyone who uses this spreadsheet); each person's
 * API token is a user property, which only that person's runs of the script can read, and it is
 * never shown again once entered. Every failure ends as a message in the sheet, never as a script
 * error.
 */

/** Filled in by `sheets-bridge apps-script --url URL`; Settings overrides it. */
const DEFAULT_BRIDGE_URL = "https://YOUR-BRIDGE-HOST";

const MENU_NAME = "Data-centric AI";
const URL_PROPERTY = "BRIDGE_URL";
const TOKEN_PROPERTY = "BRIDGE_TOKEN";
/** A user property per sheet: the id of that person's review-order filter view. */
const FILTER_VIEW_PROPERTY_PREFIX = "REVIEW_FILTER_VIEW_";
/** Marks the unfilled template URL, so the menu can say "open Settings" instead of failing. */
const PLACEHOLDER_HOST = "YOUR-BRIDGE-HOST";
/** The review-order column written by a push (1 = look first). */
const RANK_COLUMN = "rank";
/**
 * Seconds between two job-status requests from the sidebar. Each request is its own short script
 * run, so a job is followed for as long as it takes (Apps Script's 6-minute limit is per run).
 */
const POLL_SECONDS = 3;
/** Consecutive failed status requests tolerated by the sidebar (a tunnel may hiccup). */
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

/**
 * A job as the sidebar shows it: the bridge's fields plus the words for its state.
 * @typedef {Object} JobView
 * @property {string} id
 * @property {string} kind
 * @property {string} state
 * @property {string} step
 * @property {number} progress 0..1
 * @property {string} message
 * @property {string} error
 * @property {string} summary e.g. "running, train, 45%"
 * @property {boolean} ended done or failed
 */

/**
 * What the sidebar's poll gets back: the job, or the reason it could not be read this time.
 * @typedef {Object} PollAnswer
 * @property {?JobView} job
 * @property {?string} problem
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
    .addItem("Forget my API token", "forgetToken")
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

/**
 * Menu: open the caller's own review order, a filter view sorted by the `rank` column.
 *
 * Sorting the sheet itself would move the rows under everybody who is reviewing; a filter view
 * sorts only for whoever opens it. Each person gets one (its id is a user property) and it is
 * brought up to date (the rank column may have moved) every time they ask.
 */
function sortByDisagreement() {
  const title = "Sort by disagreement";
  guard_(title, function () {
    const spreadsheet = SpreadsheetApp.getActiveSpreadsheet();
    const sheet = findRankedSheet_(spreadsheet);
    const lastRow = sheet.getLastRow();
    const header = sheet.getRange(1, 1, 1, sheet.getLastColumn()).getValues()[0];
    const rankColumn = columnNumber_(header, RANK_COLUMN);
    if (lastRow < 3) {
      toast_("Nothing to sort: the sheet has " + Math.max(lastRow - 1, 0) + " data row(s).", title);
      return;
    }
    const viewId = saveReviewFilterView_(spreadsheet.getId(), sheet.getSheetId(), rankColumn);
    const link = spreadsheet.getUrl() + "#gid=" + sheet.getSheetId() + "&fvid=" + viewId;
    const html = HtmlService.createHtmlOutput(
      '<p style="font-family:sans-serif"><a href="' +
        escapeHtml_(link) +
        '" target="_top">Open my review order</a>: ' +
        (lastRow - 1) +
        " rows sorted by rank, the one to review first on top.</p>" +
        '<p style="font-family:sans-serif;color:#555">It is your own filter view: nobody else\'s rows move. ' +
        "Come back to it any time from Data &gt; Filter views (" +
        escapeHtml_(reviewViewTitle_()) +
        "), or leave it with the view's close button.</p>",
    )
      .setWidth(460)
      .setHeight(160);
    SpreadsheetApp.getUi().showModalDialog(html, "Review order");
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

/**
 * Menu: ask for the bridge URL (shared, a script property) and the caller's API token (theirs
 * alone, a user property). The token is never shown again: the prompt only says whether one is set.
 */
function openSettings() {
  const title = "Settings";
  guard_(title, function () {
    const ui = SpreadsheetApp.getUi();
    const shared = PropertiesService.getScriptProperties();
    const mine = PropertiesService.getUserProperties();
    const currentUrl = shared.getProperty(URL_PROPERTY) || DEFAULT_BRIDGE_URL;
    const hasToken = Boolean(mine.getProperty(TOKEN_PROPERTY));

    const urlAnswer = ui.prompt(
      MENU_NAME + " settings",
      "Bridge URL (HTTPS), the same for everyone. Now: " + currentUrl + "\nLeave empty to keep it.",
      ui.ButtonSet.OK_CANCEL,
    );
    if (urlAnswer.getSelectedButton() !== ui.Button.OK) {
      return;
    }
    const typedUrl = urlAnswer.getResponseText().trim();
    const url = typedUrl ? normaliseUrl_(typedUrl) : currentUrl;

    const tokenAnswer = ui.prompt(
      MENU_NAME + " settings",
      "Your API token: the `token` in the bridge's sheets-bridge.toml (or SHEETS_BRIDGE_TOKEN). " +
        "It is kept for you alone and never shown again. " +
        (hasToken ? "You have one set: type a new one to replace it, or leave empty to keep it." : "You have none set yet."),
      ui.ButtonSet.OK_CANCEL,
    );
    if (tokenAnswer.getSelectedButton() !== ui.Button.OK) {
      return;
    }
    const token = tokenAnswer.getResponseText().trim();

    if (typedUrl) {
      shared.setProperty(URL_PROPERTY, url);
    }
    if (token) {
      mine.setProperty(TOKEN_PROPERTY, token);
    }
    // Earlier versions of this menu kept one token in script properties, which every editor can
    // read; once someone has a token of their own, the shared one goes.
    if (mine.getProperty(TOKEN_PROPERTY) && shared.getProperty(TOKEN_PROPERTY) !== null) {
      shared.deleteProperty(TOKEN_PROPERTY);
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

/** Menu: delete the caller's API token; nobody else's is touched. */
function forgetToken() {
  const title = "Forget my API token";
  guard_(title, function () {
    const mine = PropertiesService.getUserProperties();
    if (mine.getProperty(TOKEN_PROPERTY) === null) {
      toast_("You have no API token set; nothing to forget.", title);
      return;
    }
    mine.deleteProperty(TOKEN_PROPERTY);
    toast_("Your API token is forgotten. " + MENU_NAME + " > Settings takes a new one.", title);
  });
}

// ---------------------------------------------------------------------------------------------
// Jobs

/**
 * Start a job on the bridge and open a sidebar that follows it until it ends.
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
    toast_("Started job " + job.id + ". The sidebar follows it.", title);
    showJobSidebar_(job, title);
  });
}

/**
 * The sidebar (Sidebar.html) that polls the job through pollJob until it ends.
 * @param {Job} job
 * @param {string} title
 */
function showJobSidebar_(job, title) {
  const template = HtmlService.createTemplateFromFile("Sidebar");
  // Printed into a <script> as it is: escape "<" so no text of the job can end that script.
  template["start"] = JSON.stringify({
    job: jobView_(job),
    title: title,
    pollMs: POLL_SECONDS * 1000,
    maxFailures: MAX_POLL_FAILURES,
  }).replace(/</g, "\\u003c");
  const html = template.evaluate().setTitle(MENU_NAME + ": " + title);
  SpreadsheetApp.getUi().showSidebar(html);
}

/**
 * Called by the sidebar (google.script.run): the job's state now, read with the caller's token.
 * Failures come back as a `problem` the sidebar shows, never as a script error.
 * @param {string} jobId
 * @returns {PollAnswer}
 */
function pollJob(jobId) {
  try {
    if (typeof jobId !== "string" || !/^[A-Za-z0-9_.-]{1,100}$/.test(jobId)) {
      throw new BridgeFailure("Not a job id: " + preview_(String(jobId)) + ".");
    }
    const answer = callBridge_(readSettings_(), "get", "/api/jobs/" + encodeURIComponent(jobId));
    const job = asJob_(answer["job"]);
    if (!job) {
      throw new BridgeFailure("The bridge's answer names no job: " + preview_(JSON.stringify(answer)));
    }
    return { job: jobView_(job), problem: null };
  } catch (e) {
    return { job: null, problem: e instanceof BridgeFailure ? e.message : "Unexpected error: " + errorText_(e) };
  }
}

/**
 * The fields of a job that the sidebar shows, as plain values.
 * @param {Job} job
 * @returns {JobView}
 */
function jobView_(job) {
  return {
    id: job.id,
    kind: String(job.kind || ""),
    state: job.state,
    step: String(job.step || ""),
    progress: typeof job.progress === "number" && isFinite(job.progress) ? job.progress : 0,
    message: String(job.message || ""),
    error: String(job.error || ""),
    summary: describeProgress_(job),
    ended: job.state === "done" || job.state === "failed",
  };
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
 * The bridge URL (script property) and the caller's token (user property); a clear failure when
 * either is missing.
 * @returns {Settings}
 */
function readSettings_() {
  const url = (PropertiesService.getScriptProperties().getProperty(URL_PROPERTY) || DEFAULT_BRIDGE_URL).replace(/\/+$/, "");
  const token = PropertiesService.getUserProperties().getProperty(TOKEN_PROPERTY) || "";
  if (url.indexOf(PLACEHOLDER_HOST) !== -1) {
    throw new BridgeFailure("No bridge URL yet. Open " + MENU_NAME + " > Settings and enter it.");
  }
  if (!token) {
    throw new BridgeFailure(
      "You have no API token set. Open " +
        MENU_NAME +
        " > Settings and paste the `token` from the bridge's sheets-bridge.toml.",
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
 * Create or update the caller's review-order filter view on a sheet; returns its id.
 * @param {string} spreadsheetId
 * @param {number} sheetId
 * @param {number} rankColumn 1-based
 * @returns {number}
 */
function saveReviewFilterView_(spreadsheetId, sheetId, rankColumn) {
  const api = sheetsApi_();
  const mine = PropertiesService.getUserProperties();
  const key = FILTER_VIEW_PROPERTY_PREFIX + sheetId;
  const stored = Number(mine.getProperty(key));
  /** @type {GoogleAppsScript.Sheets.Schema.FilterView} */
  const view = {
    title: reviewViewTitle_(),
    // The whole sheet: its first row is the header, and rows added by a later push are included.
    range: { sheetId: sheetId },
    sortSpecs: [{ dimensionIndex: rankColumn - 1, sortOrder: "ASCENDING" }],
  };
  if (Number.isInteger(stored) && stored > 0 && filterViewExists_(api, spreadsheetId, sheetId, stored)) {
    view.filterViewId = stored;
    sheetsBatchUpdate_(api, spreadsheetId, [{ updateFilterView: { filter: view, fields: "title,range,sortSpecs" } }]);
    return stored;
  }
  const reply = sheetsBatchUpdate_(api, spreadsheetId, [{ addFilterView: { filter: view } }]);
  const replies = reply.replies || [];
  const added = replies.length ? replies[0].addFilterView : undefined;
  const id = added && added.filter ? added.filter.filterViewId : undefined;
  if (typeof id !== "number") {
    throw new BridgeFailure("Google Sheets made the filter view but did not say its id; try again.");
  }
  mine.setProperty(key, String(id));
  return id;
}

/**
 * One spreadsheets.batchUpdate; a refusal (a viewer may not save filter views) says what it needs.
 * @param {GoogleAppsScript.Sheets} api
 * @param {string} spreadsheetId
 * @param {Array<GoogleAppsScript.Sheets.Schema.Request>} requests
 * @returns {GoogleAppsScript.Sheets.Schema.BatchUpdateSpreadsheetResponse}
 */
function sheetsBatchUpdate_(api, spreadsheetId, requests) {
  try {
    return api.Spreadsheets.batchUpdate({ requests: requests }, spreadsheetId);
  } catch (e) {
    throw new BridgeFailure(
      "Google Sheets refused to save your review order (" +
        errorText_(e) +
        "). A filter view needs edit access to this spreadsheet.",
    );
  }
}

/**
 * Whether a filter view still exists on the sheet (someone may have deleted it).
 * @param {GoogleAppsScript.Sheets} api
 * @param {string} spreadsheetId
 * @param {number} sheetId
 * @param {number} viewId
 * @returns {boolean}
 */
function filterViewExists_(api, spreadsheetId, sheetId, viewId) {
  const found = api.Spreadsheets.get(spreadsheetId, {
    fields: "sheets(properties(sheetId),filterViews(filterViewId))",
  });
  return (found.sheets || []).some(function (sheet) {
    const properties = sheet.properties;
    return (
      properties !== undefined &&
      properties.sheetId === sheetId &&
      (sheet.filterViews || []).some(function (view) {
        return view.filterViewId === viewId;
      })
    );
  });
}

/**
 * The Sheets advanced service (filter views have no SpreadsheetApp API), or what to do without it.
 * @returns {GoogleAppsScript.Sheets}
 */
function sheetsApi_() {
  if (typeof Sheets === "undefined" || !Sheets) {
    throw new BridgeFailure(
      "The Google Sheets API service is not on in this script. Install the appsscript.json that " +
        "`sheets-bridge apps-script` writes (it turns it on), or add it under Services in the editor.",
    );
  }
  return Sheets;
}

/**
 * The filter view's title: whose review order it is, as Data > Filter views lists it.
 * @returns {string}
 */
function reviewViewTitle_() {
  let email = "";
  try {
    email = Session.getActiveUser().getEmail();
  } catch (e) {
    email = ""; // some accounts do not reveal it; the view is still the caller's
  }
  return "Review order" + (email ? " (" + email + ")" : "");
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
