// The local sheet grid (Tabulator): the server pages, sorts and filters (a sheet may hold a
// million rows); human cells are editable, and the keyboard votes in the reviewer's own column.
// Every edit is one compare-and-set cell write: a cell a colleague changed meanwhile is shown,
// never overwritten. Edits by other people appear within a few seconds.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const el = document.getElementById("grid");
  const choices = JSON.parse(el.dataset.choices);
  const annotators = JSON.parse(el.dataset.annotators);
  const imageColumns = JSON.parse(el.dataset.imageColumns);
  const descriptions = JSON.parse(el.dataset.descriptions);
  const POLL_MS = 4000;
  const PAGE_SIZE = 100;
  const NAMES = { X: "X (ten)", x: "x (remove)", "?": "? (unsure)", "": "(empty)" };
  // The classes in legend order (choices end with x and ?): digits 1..9, 0 vote the first ten.
  const classes = choices.slice(0, -2);
  const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];
  const labelValues = {};
  // Tabulator draws dropdown entries as HTML: a class name must stay text.
  for (const c of ["", ...choices]) labelValues[c] = sb.escapeHtml(NAMES[c] || c);
  const NUMERIC = new Set(["confidence", "label_quality", "typicality", "rank", "agreement"]);
  const WIDTH = { id: 120, label: 80, subset: 90, pred: 80, confidence: 110, label_quality: 120,
    is_correct: 100, typicality: 110, rank: 80, note: 200, issues: 260, status: 220, nearest_label_book: 170,
    duplicate_of: 130, consensus: 110, agreement: 110 };
  const FILTER_OPS = { like: "contains", ">=": ">=", "<=": "<=", "=": "=" };

  let table = null;
  let seq = 0;
  let editing = null; // "id|column" of the cell being edited: polling must not overwrite it
  let currentId = null; // the row the keys act on
  let matched = 0;
  let total = 0;
  let more = false;
  let pinned = false; // the zoom stays open until closed (click, Esc, z)
  let progressTimer = null;

  // -- who am I: "your name" (top right) picks the annotator column -------------------------------
  const authorInput = document.getElementById("author");
  const meSelect = document.getElementById("me");
  const addMe = document.getElementById("add-me");

  // Names match as the server matches them: ignoring case and runs of spaces.
  const same = (s) => s.normalize("NFC").split(/\s+/).filter(Boolean).join(" ").toLowerCase();
  function myColumn() {
    const name = same(sb.author());
    return annotators.find((a) => same(a) === name) || null;
  }

  function showMe() {
    const mine = myColumn();
    meSelect.value = mine || "";
    const name = authorInput ? authorInput.value.trim() : "";
    addMe.hidden = !name || Boolean(mine);
    addMe.textContent = "Add " + name + " as an annotator";
    renderProgress();
  }

  function fillMe() {
    const none = document.createElement("option");
    none.value = "";
    none.textContent = "(none: type your name)";
    meSelect.append(none);
    for (const a of annotators) {
      const o = document.createElement("option");
      o.value = a;
      o.textContent = a;
      meSelect.append(o);
    }
    meSelect.addEventListener("change", () => {
      if (!meSelect.value) return;
      authorInput.value = meSelect.value;
      authorInput.dispatchEvent(new Event("change"));
    });
    if (authorInput) {
      authorInput.addEventListener("change", () => { showMe(); if (onlyUnvoted()) reload(); });
      authorInput.addEventListener("input", showMe);
    }
    addMe.addEventListener("click", async () => {
      try {
        const result = await sb.api("POST", "/api/annotators", { name: authorInput.value.trim() });
        authorInput.value = result.name;
        window.localStorage.setItem("sheets-bridge-author", result.name);
        sb.toast(result.message);
        window.location.reload(); // the new column joins the grid
      } catch (e) {
        sb.toast(e.message, "error");
      }
    });
  }

  // -- legend and progress --------------------------------------------------------------------
  function key(k, what) {
    const span = document.createElement("span");
    span.className = "key";
    const kbd = document.createElement("kbd");
    kbd.textContent = k;
    span.append(kbd, " " + what);
    return span;
  }

  function renderLegend() {
    const legend = document.getElementById("legend");
    legend.replaceChildren();
    classes.slice(0, DIGITS.length).forEach((c, i) => legend.append(key(DIGITS[i], c)));
    if (classes.length > DIGITS.length) legend.append(key("Enter", "type any class, Enter"));
    for (const [k, what] of [["x", "remove"], ["?", "unsure"], ["⌫", "clear my vote"],
      ["j/↓ k/↑", "next / previous row"], ["z", "zoom"], ["n p", "next / previous page"], ["u", "undo"]]) {
      legend.append(key(k, what));
    }
    if (classes.length <= DIGITS.length) legend.append(key("Enter", "type a class"));
  }

  let counts = [];
  function renderProgress() {
    const box = document.getElementById("progress");
    box.replaceChildren();
    const mine = myColumn();
    for (const p of counts) {
      const span = document.createElement("span");
      span.className = "person" + (p.name === mine ? " me" : "");
      span.dataset.name = p.name;
      span.textContent = p.name + " " + p.voted.toLocaleString() + " / " + p.rows.toLocaleString();
      span.title = p.name + " voted in " + p.voted + " of the sheet's " + p.rows + " rows";
      box.append(span);
    }
  }

  async function loadProgress() {
    try {
      counts = (await sb.api("GET", "/api/annotators")).annotators;
      renderProgress();
    } catch (e) {
      // shown again at the next vote
    }
  }

  // Counting votes reads every row (a million in a big sheet): the page counts its own votes at
  // once and asks the server again at most every PROGRESS_MS, when someone voted.
  const PROGRESS_MS = 20000;
  let progressAsked = 0;
  function refreshProgress() {
    if (progressTimer) return;
    const wait = Math.max(0, progressAsked + PROGRESS_MS - Date.now());
    progressTimer = setTimeout(() => {
      progressTimer = null;
      progressAsked = Date.now();
      loadProgress();
    }, wait);
  }

  function countMine(column, before, after) {
    const p = counts.find((c) => c.name === column);
    if (!p || Boolean(before.trim()) === Boolean(after.trim())) return;
    p.voted += after.trim() ? 1 : -1;
    renderProgress();
  }

  // -- cells ----------------------------------------------------------------------------------
  function thumbSrc(src) {
    if (!src) return "";
    if (!src.startsWith("/images/")) return src;
    return src + (src.includes("?") ? "&" : "?") + "thumb=1";
  }

  function imageFormatter(cell) {
    const src = cell.getValue();
    if (!src) return "";
    const img = document.createElement("img");
    img.className = "thumb";
    img.loading = "lazy";
    img.width = 40;
    img.height = 40;
    img.alt = "";
    img.src = thumbSrc(src);
    img.dataset.full = src;
    img.addEventListener("mouseenter", () => { if (!pinned) zoom(src, cell.getRow().getData(), false); });
    img.addEventListener("mouseleave", () => { if (!pinned) closeZoom(); });
    img.addEventListener("click", (e) => {
      e.stopPropagation();
      setCurrent(cell.getRow().getData().id);
      zoom(src, cell.getRow().getData(), true);
    });
    return img;
  }

  function numberFormatter(cell) {
    const v = cell.getValue();
    if (v === null || v === undefined || v === "") return "";
    const n = Number(v);
    return Number.isFinite(n) ? (Number.isInteger(n) ? String(n) : n.toFixed(3)) : sb.escapeHtml(v);
  }

  const measure = document.createElement("canvas").getContext("2d");
  function titleWidth(name) {
    // The whole header name stays readable: wide enough for the text, the sort arrow and padding.
    measure.font = "bold 13px " + getComputedStyle(document.body).fontFamily;
    return Math.ceil(measure.measureText(name).width) + 42;
  }

  function column(name, meta) {
    const col = {
      title: sb.escapeHtml(name), field: name, headerTooltip: descriptions[name] || name,
      width: Math.max(WIDTH[name] || (meta.labelColumns.includes(name) ? 130 : 120), titleWidth(name)),
      headerFilter: "input", headerFilterPlaceholder: "filter", vertAlign: "middle",
      headerWordWrap: true,
    };
    if (NUMERIC.has(name)) {
      col.formatter = numberFormatter;
      col.hozAlign = "right";
      col.headerFilter = "number";
      col.headerFilterFunc = ">=";
      col.headerFilterPlaceholder = "≥";
    }
    if (imageColumns.includes(name)) {
      Object.assign(col, { formatter: imageFormatter, width: Math.max(72, titleWidth(name)), headerSort: false,
        headerFilter: false, hozAlign: "center" });
    }
    if (name === "id" || name === imageColumns[0]) col.frozen = true;
    if (meta.editable.includes(name)) {
      col.cssClass = "editable";
      if (meta.labelColumns.includes(name)) {
        col.editor = "list";
        col.editorParams = { values: labelValues, autocomplete: true, freetext: true, allowEmpty: true,
          listOnEmpty: true, clearable: true };
      } else if (name === "subset") {
        col.editor = "list";
        col.editorParams = { values: { train: "train", val: "val" } };
      } else {
        col.editor = "input";
      }
    }
    return col;
  }

  function text(v) {
    return v === null || v === undefined ? "" : String(v);
  }

  function conflictMessage(c) {
    return "not saved: " + c.id + " " + c.column + " was changed to \"" + c.current +
      "\" meanwhile; edit again to replace it";
  }

  async function save(cell) {
    const row = cell.getRow().getData();
    const column = cell.getField();
    const value = text(cell.getValue());
    editing = null;
    try {
      // What the cell showed before this edit: the server writes only if it still holds that.
      const result = await sb.edit([{ id: row.id, column, value, expected: text(cell.getOldValue()) }]);
      const written = result.edits[0].value;
      if (written !== value) cell.setValue(written, false);
      flash(cell);
      countMine(column, text(cell.getOldValue()), written);
    } catch (e) {
      if (e.status === 409 && e.data && e.data.conflicts.length) {
        const c = e.data.conflicts[0];
        cell.setValue(c.current, false); // show what a colleague typed meanwhile
        sb.toast(conflictMessage(c), "error");
      } else {
        cell.restoreOldValue();
        sb.toast(e.message, "error");
      }
    }
  }

  function flash(cell) {
    cell.getElement().classList.add("saved");
    setTimeout(() => cell.getElement() && cell.getElement().classList.remove("saved"), 1200);
  }

  // -- keyboard review ------------------------------------------------------------------------
  function rows() {
    return table ? table.getRows("active") : [];
  }

  function currentRow() {
    return rows().find((r) => r.getData().id === currentId) || null;
  }

  function setCurrent(id) {
    const before = currentRow();
    currentId = id;
    const row = currentRow();
    if (before && before !== row) before.getElement().classList.remove("current");
    if (row) {
      row.getElement().classList.add("current");
      table.scrollToRow(row, "nearest", false).catch(() => {});
      document.body.dataset.currentRow = id;
    }
  }

  function move(step) {
    const list = rows();
    if (!list.length) return;
    const at = list.findIndex((r) => r.getData().id === currentId);
    const next = at + step;
    if (next >= list.length) {
      if (table.getPage() < table.getPageMax()) table.nextPage().then(() => selectEdge(true));
      return;
    }
    if (next < 0) {
      if (table.getPage() > 1) table.previousPage().then(() => selectEdge(false));
      return;
    }
    setCurrent(list[next].getData().id);
  }

  function selectEdge(first) {
    const list = rows();
    if (list.length) setCurrent(list[first ? 0 : list.length - 1].getData().id);
  }

  // Votes are sent one after another, in the order typed: a fast reviewer moves on at once and the
  // cell shows the vote; a vote the server refuses puts back what the cell really holds.
  let queue = Promise.resolve();
  let pending = 0;

  function counted(promise) {
    document.body.dataset.pending = String(++pending);
    return promise.finally(() => { document.body.dataset.pending = String(--pending); });
  }

  function vote(value) {
    const row = currentRow();
    if (!row) return;
    const column = myColumn();
    if (!column) {
      sb.toast("type your name (top right) or pick your column to vote with the keys", "error");
      return;
    }
    const data = row.getData();
    const old = text(data[column]);
    if (old !== value) {
      row.update({ [column]: value });
      queue = counted(queue.then(() => send(data.id, column, value, old)));
    }
    move(1);
  }

  async function send(id, column, value, old) {
    const show = (v) => {
      const row = table.getRow(id);
      if (row) row.update({ [column]: v });
      return row;
    };
    try {
      const result = await sb.edit([{ id, column, value, expected: old }]);
      const row = show(result.edits[0].value);
      if (row) flash(row.getCell(column));
      countMine(column, old, result.edits[0].value);
    } catch (e) {
      if (e.status === 409 && e.data && e.data.conflicts.length) {
        const c = e.data.conflicts[0];
        show(c.current); // what a colleague typed meanwhile stays, and is shown
        sb.toast(conflictMessage(c), "error");
      } else {
        show(old);
        sb.toast(e.message, "error");
      }
    }
  }

  function typeIn() {
    // Type-ahead: the reviewer's cell opens its list; typing narrows it, Enter saves.
    const row = currentRow();
    const column = myColumn();
    if (!row || !column) return vote("");
    row.getCell(column).edit(true);
  }

  function zoomCurrent() {
    const row = currentRow();
    const first = imageColumns.find((c) => row && row.getData()[c]);
    if (!row || !first) return;
    if (pinned) return closeZoom();
    zoom(row.getData()[first], row.getData(), true);
  }

  function zoom(src, data, pin) {
    const box = document.getElementById("zoom");
    const img = document.getElementById("zoom-img");
    img.src = src;
    document.getElementById("zoom-caption").textContent =
      [data.id, data.label && "label " + data.label, data.pred && "predicted " + data.pred]
        .filter(Boolean).join(" · ");
    pinned = pin;
    box.classList.toggle("hover", !pin);
    box.hidden = false;
  }

  function closeZoom() {
    pinned = false;
    document.getElementById("zoom").hidden = true;
  }

  function onKey(e) {
    if (!table || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (editing || (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" ||
      t.isContentEditable))) return;
    const k = e.key;
    let done = true;
    if (k === "Escape") closeZoom();
    else if (k === "ArrowDown" || k === "j") move(1);
    else if (k === "ArrowUp" || k === "k") move(-1);
    else if (k === "z") zoomCurrent();
    else if (k === "n" || k === "PageDown") table.nextPage().then(() => selectEdge(true)).catch(() => {});
    else if (k === "p" || k === "PageUp") table.previousPage().then(() => selectEdge(true)).catch(() => {});
    else if (k === "u") undo();
    else if (k === "x") vote("x");
    else if (k === "?") vote("?");
    else if (k === "Backspace" || k === "Delete") vote("");
    else if (k === "Enter") typeIn();
    else if (DIGITS.includes(k) && DIGITS.indexOf(k) < classes.length) vote(classes[DIGITS.indexOf(k)]);
    else done = false;
    if (done) e.preventDefault();
  }

  async function undo() {
    try {
      const result = await sb.undo();
      for (const a of result.applied) {
        const row = table.getRow(a.id);
        if (row) row.update({ [a.column]: a.new });
        countMine(a.column, a.old, a.new);
      }
      sb.toast("undone: " + sb.summary(result), result.conflicts.length ? "error" : "");
    } catch (e) {
      sb.toast(e.message, "error");
    }
  }

  // -- data: one page at a time from the server -------------------------------------------------
  function onlyUnvoted() {
    return document.getElementById("only-unvoted").checked;
  }

  async function request(url, config, params) {
    const q = new URLSearchParams();
    const size = params.size || PAGE_SIZE;
    q.set("offset", String(((params.page || 1) - 1) * size));
    q.set("limit", String(size));
    const sort = (params.sort || [])[0];
    if (sort) {
      q.set("sort", sort.field);
      q.set("dir", sort.dir);
    }
    const filters = (params.filter || []).map((f) => ({ column: f.field, op: FILTER_OPS[f.type] || "contains", value: f.value }));
    if (filters.length) q.set("filters", JSON.stringify(filters));
    const search = document.getElementById("search").value.trim();
    if (search) q.set("q", search);
    if (document.getElementById("only-issues").checked) q.set("issues", "1");
    if (onlyUnvoted()) {
      const mine = myColumn();
      if (!mine) sb.toast("type your name (top right) to see your unvoted rows", "error");
      else q.set("unvoted", mine);
    }
    const data = await sb.api("GET", url + "?" + q.toString());
    if (!seq) seq = data.seq;
    matched = data.matched;
    total = data.total;
    more = data.more;
    const rowsOut = data.rows.map((r) => {
      const o = {};
      data.columns.forEach((c, i) => { o[c] = r[i]; });
      return o;
    });
    // A filter's count stops a little past the page ("10,100+"): one more page is always there.
    const pages = Math.ceil(matched / size) + (more ? 1 : 0);
    return { data: rowsOut, last_page: Math.max(1, pages), last_row: matched };
  }

  function count() {
    document.getElementById("grid-count").textContent =
      matched.toLocaleString() + (more ? "+" : "") + " of " + total.toLocaleString() + " rows";
  }

  function reload() {
    return table.setPage(1);
  }

  async function poll() {
    try {
      const data = await sb.api("GET", "/api/sheet/edits?since=" + seq);
      const updates = [];
      for (const e of data.edits) {
        if (editing !== e.id + "|" + e.column && table.getRow(e.id)) updates.push({ id: e.id, [e.column]: e.value });
      }
      if (updates.length) await table.updateData(updates);
      if (data.edits.some((e) => annotators.includes(e.column) && e.author !== sb.author())) refreshProgress();
      seq = data.seq;
    } catch (e) {
      // the server may be restarting; try again at the next tick
    }
    setTimeout(poll, POLL_MS);
  }

  function fitHeight() {
    return Math.max(240, window.innerHeight - el.getBoundingClientRect().top - 10) + "px";
  }

  async function load() {
    // The columns come from the first page; the table then asks for every page itself.
    const first = await sb.api("GET", "/api/sheet/page?limit=0");
    seq = first.seq;
    const meta = { editable: first.editable, labelColumns: first.label_columns };
    // What a reviewer needs first (the image; the label and the prediction, each beside the
    // nearest reference image of that class; the issues; the cells to fill), then the rest in
    // sheet order.
    const lead = ["id", ...imageColumns.slice(0, 1), "label", "label_example", "pred",
      "pred_example", "confidence", "issues", ...meta.labelColumns, "note", "subset"];
    const order = [...lead.filter((c) => first.columns.includes(c)), ...first.columns.filter((c) => !lead.includes(c))];
    table = new Tabulator(el, {
      index: "id",
      columns: order.map((c) => column(c, meta)),
      // A fixed pixel height: with a height that follows the content, every row would be drawn.
      height: fitHeight(),
      layout: "fitData",
      renderVertical: "virtual",
      rowHeight: 46,
      pagination: true,
      paginationMode: "remote",
      paginationSize: PAGE_SIZE,
      paginationSizeSelector: [50, 100, 200, 500],
      sortMode: "remote",
      filterMode: "remote",
      ajaxURL: "/api/sheet/page",
      ajaxRequestFunc: request,
      headerFilterLiveFilterDelay: 300,
      placeholder: "No rows: run `sheets-bridge push` (or Push on the dashboard), or clear the filters.",
      rowFormatter: (row) => row.getElement().classList.toggle("current", row.getData().id === currentId),
    });
    table.on("cellEditing", (cell) => { editing = cell.getRow().getData().id + "|" + cell.getField(); });
    table.on("cellEditCancelled", () => { editing = null; });
    table.on("cellEdited", save);
    table.on("rowClick", (e, row) => setCurrent(row.getData().id));
    table.on("dataProcessed", () => {
      count();
      if (!currentRow()) selectEdge(true);
      document.body.dataset.gridReady = "1";
      document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
      document.body.dataset.page = String(table.getPage());
    });
    window.addEventListener("resize", () => table.setHeight(fitHeight()));
    let typing = null;
    document.getElementById("search").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(reload, 250);
    });
    document.getElementById("only-issues").addEventListener("change", reload);
    document.getElementById("only-unvoted").addEventListener("change", reload);
    document.getElementById("zoom").addEventListener("click", closeZoom);
    document.addEventListener("keydown", onKey);
    const undoButton = document.createElement("button");
    undoButton.type = "button";
    undoButton.id = "undo";
    undoButton.textContent = "Undo my last edit";
    undoButton.addEventListener("click", undo);
    addMe.after(undoButton);
    setTimeout(poll, POLL_MS);
  }

  fillMe();
  renderLegend();
  showMe();
  progressAsked = Date.now();
  loadProgress();
  load().catch((e) => sb.toast("could not load the sheet: " + e.message, "error"));
})();
