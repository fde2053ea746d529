// The UMAP view: colour switcher and legend, the selection grid, and actions on the selection.
// Bokeh draws the points; this file finds its models by name once the document is ready.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const MAX_THUMBS = 300; // the grid shows the first ones; actions apply to the whole selection
  const SHEET_SUBSETS = ["train", "val"]; // only these images have a sheet row
  let doc = null;
  let source = null;
  let selected = [];

  function ready(callback) {
    const found = window.Bokeh && Bokeh.documents && Bokeh.documents[0];
    if (found && found.get_model_by_name("points")) {
      callback(found);
    } else {
      setTimeout(() => ready(callback), 50);
    }
  }

  // -- colours -----------------------------------------------------------------------------
  const legends = JSON.parse(document.getElementById("legend").dataset.legends || "{}");

  function drawLegend(option) {
    const box = document.getElementById("legend");
    box.replaceChildren();
    const counts = {};
    if (source) for (const v of source.data[option]) counts[v] = (counts[v] || 0) + 1;
    for (const [value, colour] of legends[option] || []) {
      const item = document.createElement("span");
      item.className = "item";
      const dot = document.createElement("i");
      dot.style.background = colour;
      item.append(dot, document.createTextNode(value + (counts[value] ? " (" + counts[value] + ")" : "")));
      box.append(item);
    }
  }

  function setColour(option) {
    const renderer = doc.get_model_by_name("points");
    const mapper = doc.get_model_by_name("cmap_" + option);
    const spec = { field: option, transform: mapper };
    for (const glyph of [renderer.glyph, renderer.nonselection_glyph, renderer.selection_glyph,
      renderer.hover_glyph, renderer.muted_glyph]) {
      if (glyph && typeof glyph === "object" && "fill_color" in glyph) {
        glyph.fill_color = spec;
        glyph.line_color = spec;
      }
    }
    drawLegend(option);
    const url = new URL(window.location.href);
    url.searchParams.set("colour", option);
    window.history.replaceState(null, "", url);
  }

  // -- selection ---------------------------------------------------------------------------
  function onSelect(indices) {
    selected = Array.from(indices);
    document.getElementById("sel-count").textContent = selected.length;
    document.getElementById("sel-hint").hidden = selected.length > 0;
    document.getElementById("sel-actions").hidden = selected.length === 0;
    const grid = document.getElementById("sel-grid");
    grid.replaceChildren();
    const d = source.data;
    for (const i of selected.slice(0, MAX_THUMBS)) {
      const a = document.createElement("a");
      a.href = "/images/" + encodeURIComponent(d.id[i]);
      a.target = "_blank";
      a.rel = "noopener";
      a.className = "thumb";
      a.title = d.id[i] + ": label " + d.label[i] + ", pred " + d.pred[i] +
        (d.override[i] ? ", override " + d.override[i] : "");
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = d.id[i];
      img.src = sb.thumb(d.id[i]);
      const cap = document.createElement("span");
      cap.textContent = d.label[i] + (d.pred[i] && d.pred[i] !== d.label[i] ? "→" + d.pred[i] : "") +
        (d.override[i] ? " [" + d.override[i] + "]" : "");
      a.append(img, cap);
      grid.append(a);
    }
    if (selected.length > MAX_THUMBS) {
      const more = document.createElement("p");
      more.className = "muted";
      more.textContent = "… and " + (selected.length - MAX_THUMBS) + " more (actions apply to all)";
      grid.append(more);
    }
  }
  sb.onSelect = function (indices) { if (source) onSelect(indices); };

  function decision(override, label) {
    const v = (override || "").trim();
    if (!v) return "none";
    if (v === "x") return "remove";
    return v.toLowerCase() === label.toLowerCase() || (v === "X" && label === "x") ? "keep" : "relabel";
  }

  async function act(column, value, options) {
    const d = source.data;
    const rows = selected.filter((i) => SHEET_SUBSETS.includes(d.subset[i]));
    const skipped = selected.length - rows.length;
    if (!rows.length) {
      sb.toast("none of the selected images has a sheet row (label_book, test or removed)", "error");
      return;
    }
    // What the view showed is what each cell is expected to hold (notes are appended instead).
    const edits = rows.map((i) => {
      const e = Object.assign({ id: d.id[i], column, value }, options || {});
      if (column === "override") e.expected = d.override[i] || "";
      return e;
    });
    try {
      let result = null;
      try {
        result = await sb.editConfirmed(edits, { bulk: true });
      } catch (e) {
        if (e.status !== 409 || !e.data) throw e;
        result = e.data; // some cells had changed: the rest were saved; show both
      }
      if (!result) return; // not confirmed
      apply(column, rows, result);
      sb.toast(sb.summary(result) + (skipped ? ", " + skipped + " image(s) without a sheet row skipped" : ""),
        result.conflicts.length || result.kept.length ? "error" : "");
      // Cells someone had typed are kept unless the person says, seeing how many, to replace them.
      if (result.kept.length && window.confirm(result.kept.length + " of these cells hold a value someone typed. Replace them too?")) {
        const again = result.kept.map((k) => ({ id: k.id, column, value, expected: k.current }));
        const forced = await sb.editConfirmed(again, { bulk: true, force: true });
        if (forced) {
          apply(column, rows, forced);
          sb.toast(sb.summary(forced));
        }
      }
    } catch (e) {
      sb.toast(e.message, "error");
    }
  }

  // Show what each cell holds after an action (the new value, or what someone else typed).
  function apply(column, rows, result) {
    const d = source.data;
    const written = new Map(result.edits.map((e) => [e.id, e.value]));
    for (const i of rows) {
      if (!written.has(d.id[i])) continue;
      const v = written.get(d.id[i]);
      if (column === "override") {
        d.override[i] = v;
        d.decision[i] = decision(v, d.label[i]);
      } else if (column === "subset") {
        d.subset[i] = v;
      } else if (column === "note") {
        d.note[i] = v;
      }
    }
    source.change.emit();
    onSelect(selected);
    drawLegend(document.getElementById("colour").value);
  }

  async function undo() {
    try {
      const result = await sb.undo();
      const d = source.data;
      const index = new Map(d.id.map((id, i) => [id, i]));
      for (const a of result.applied) {
        const i = index.get(a.id);
        if (i === undefined) continue;
        if (a.column === "override") {
          d.override[i] = a.new;
          d.decision[i] = decision(a.new, d.label[i]);
        } else if (a.column === "note") {
          d.note[i] = a.new;
        }
      }
      source.change.emit();
      sb.toast("undone: " + sb.summary(result), result.conflicts.length ? "error" : "");
    } catch (e) {
      sb.toast(e.message, "error");
    }
  }

  function wire() {
    document.getElementById("colour").addEventListener("change", (e) => setColour(e.target.value));
    document.getElementById("act-override").addEventListener("click", () =>
      act("override", document.getElementById("override-value").value));
    document.getElementById("act-remove").addEventListener("click", () => act("override", "x"));
    document.getElementById("act-clear").addEventListener("click", () => act("override", ""));
    document.getElementById("act-val").addEventListener("click", () => act("subset", "val"));
    document.getElementById("act-train").addEventListener("click", () => act("subset", "train"));
    const undoButton = document.createElement("button");
    undoButton.type = "button";
    undoButton.id = "act-undo";
    undoButton.textContent = "Undo my last action";
    undoButton.addEventListener("click", undo);
    document.getElementById("act-clear").after(undoButton);
    document.getElementById("act-note").addEventListener("click", () => {
      const text = document.getElementById("note-text").value.trim();
      if (text) act("note", text, { append: true });
    });
  }

  if (document.getElementById("plot")) {
    wire();
    ready((d) => {
      doc = d;
      source = doc.get_model_by_name("points_source");
      const data = document.getElementById("points-data");
      source.data = JSON.parse(data.textContent);
      data.remove(); // a megabyte of text the page no longer needs
      source.selected.properties.indices.change.connect(() => onSelect(source.selected.indices));
      drawLegend(document.getElementById("colour").value);
      document.body.dataset.plotReady = "1";
    });
  }
})();
