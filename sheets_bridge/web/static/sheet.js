// The local sheet grid (Tabulator): virtual rendering, sort and filter, human cells editable.
// Each edit is saved at once as one cell; edits by other people appear within a few seconds.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const el = document.getElementById("grid");
  const choices = JSON.parse(el.dataset.choices);
  const descriptions = JSON.parse(el.dataset.descriptions);
  const POLL_MS = 4000;
  const NAMES = { X: "X (ten)", x: "x (remove)", "?": "? (unsure)", "": "(empty)" };
  const labelValues = {};
  // Tabulator draws dropdown entries as HTML: a class name must stay text.
  for (const c of ["", ...choices]) labelValues[c] = sb.escapeHtml(NAMES[c] || c);
  const NUMERIC = new Set(["confidence", "label_quality", "typicality", "rank", "agreement"]);
  const WIDTH = { id: 120, label: 80, subset: 90, pred: 80, confidence: 110, label_quality: 120,
    is_correct: 100, typicality: 110, rank: 80, note: 200, issues: 230, status: 220, nearest_label_book: 170,
    duplicate_of: 130, consensus: 110, agreement: 110 };

  let table = null;
  let seq = 0;
  let editing = null; // "id|column" of the cell being edited: polling must not overwrite it

  function thumbFormatter(cell) {
    const img = document.createElement("img");
    img.loading = "lazy";
    img.width = 40;
    img.height = 40;
    img.alt = "";
    img.src = sb.thumb(cell.getRow().getData().id);
    return img;
  }

  function numberFormatter(cell) {
    const v = cell.getValue();
    if (v === null || v === undefined || v === "") return "";
    const n = Number(v);
    return Number.isFinite(n) ? (Number.isInteger(n) ? String(n) : n.toFixed(3)) : sb.escapeHtml(v);
  }

  function column(name, meta) {
    const col = {
      title: sb.escapeHtml(name), field: name, headerTooltip: descriptions[name] || name,
      width: WIDTH[name] || (meta.labelColumns.includes(name) ? 130 : 120),
      headerFilter: "input", headerFilterPlaceholder: "filter", vertAlign: "middle",
    };
    if (NUMERIC.has(name)) {
      col.sorter = "number";
      col.formatter = numberFormatter;
      col.hozAlign = "right";
      col.headerFilter = "number";
      col.headerFilterFunc = ">=";
      col.headerFilterPlaceholder = "≥";
    }
    if (name === "id") col.frozen = true;
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
      cell.getElement().classList.add("saved");
      setTimeout(() => cell.getElement() && cell.getElement().classList.remove("saved"), 1200);
    } catch (e) {
      if (e.status === 409 && e.data && e.data.conflicts.length) {
        const c = e.data.conflicts[0];
        cell.setValue(c.current, false); // show what a colleague typed meanwhile
        sb.toast("not saved: " + c.id + " " + c.column + " was changed to \"" + c.current + "\" meanwhile; edit again to replace it", "error");
      } else {
        cell.restoreOldValue();
        sb.toast(e.message, "error");
      }
    }
  }

  async function undo() {
    try {
      const result = await sb.undo();
      for (const a of result.applied) table.updateData([{ id: a.id, [a.column]: a.new }]);
      sb.toast("undone: " + sb.summary(result), result.conflicts.length ? "error" : "");
    } catch (e) {
      sb.toast(e.message, "error");
    }
  }

  async function poll() {
    try {
      const data = await sb.api("GET", "/api/sheet/edits?since=" + seq);
      const updates = [];
      for (const e of data.edits) {
        if (editing !== e.id + "|" + e.column) updates.push({ id: e.id, [e.column]: e.value });
      }
      if (updates.length) await table.updateData(updates);
      seq = data.seq;
    } catch (e) {
      // the server may be restarting; try again at the next tick
    }
    setTimeout(poll, POLL_MS);
  }

  function applyFilters() {
    const text = document.getElementById("search").value.trim().toLowerCase();
    const onlyIssues = document.getElementById("only-issues").checked;
    table.setFilter((row) => {
      if (onlyIssues && !row.issues) return false;
      if (!text) return true;
      for (const v of Object.values(row)) {
        if (v !== null && v !== undefined && String(v).toLowerCase().includes(text)) return true;
      }
      return false;
    });
  }

  function count() {
    document.getElementById("grid-count").textContent =
      table.getDataCount("active") + " of " + table.getDataCount() + " rows";
  }

  function fitHeight() {
    return Math.max(240, window.innerHeight - el.getBoundingClientRect().top - 10) + "px";
  }

  async function load() {
    const data = await sb.api("GET", "/api/sheet/rows");
    seq = data.seq;
    const meta = { editable: data.editable, labelColumns: data.label_columns };
    const rows = data.rows.map((r) => {
      const o = {};
      data.columns.forEach((c, i) => { o[c] = r[i]; });
      return o;
    });
    // What a reviewer needs first (the image, label, prediction, issues, the cells to fill),
    // then the rest in sheet order.
    const first = ["id", "label", "pred", "confidence", "issues", ...meta.labelColumns, "note", "subset"];
    const order = [...first.filter((c) => data.columns.includes(c)), ...data.columns.filter((c) => !first.includes(c))];
    const columns = order.map((c) => column(c, meta));
    columns.splice(1, 0, { title: "image", field: "image", formatter: thumbFormatter, width: 72,
      headerSort: false, hozAlign: "center", vertAlign: "middle", headerTooltip: descriptions.image });
    table = new Tabulator(el, {
      data: rows,
      index: "id",
      columns,
      // A fixed pixel height: with a height that follows the content, every row would be drawn.
      height: fitHeight(),
      layout: "fitData",
      renderVertical: "virtual",
      rowHeight: 46,
      placeholder: "The sheet is empty: run `sheets-bridge push` (or Push on the dashboard).",
    });
    table.on("cellEditing", (cell) => { editing = cell.getRow().getData().id + "|" + cell.getField(); });
    table.on("cellEditCancelled", () => { editing = null; });
    table.on("cellEdited", save);
    table.on("dataFiltered", () => setTimeout(count, 0));
    table.on("tableBuilt", () => {
      count();
      document.body.dataset.gridReady = "1";
    });
    window.addEventListener("resize", () => table.setHeight(fitHeight()));
    let typing = null; // filter once the typing pauses: each pass reads every cell of every row
    document.getElementById("search").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(applyFilters, 150);
    });
    document.getElementById("only-issues").addEventListener("change", applyFilters);
    const undoButton = document.createElement("button");
    undoButton.type = "button";
    undoButton.id = "undo";
    undoButton.textContent = "Undo my last edit";
    undoButton.addEventListener("click", undo);
    document.getElementById("only-issues").closest("label").after(undoButton);
    setTimeout(poll, POLL_MS);
  }

  load().catch((e) => sb.toast("could not load the sheet: " + e.message, "error"));
})();
