// The dashboard's "Disagreement" card: reads /api/report (the same report as
// `sheets-bridge report --json`) and fills the annotator table, the class pairs and the review
// progress. Everything is written with textContent: annotator names come from the config.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const card = document.getElementById("report");
  if (!card) return;
  const $ = (id) => document.getElementById(id);

  function pct(x) {
    return x === null || x === undefined ? "–" : Math.round(x * 100) + " %";
  }

  function cell(row, text, cls, title) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    row.appendChild(td);
    return td;
  }

  function pairs(list, items, empty, sep) {
    list.replaceChildren();
    for (const p of items) {
      const li = document.createElement("li");
      const line = document.createElement("span");
      const name = document.createElement("span");
      name.className = "pair";
      name.textContent = p.a + sep + p.b + ":";
      const n = document.createElement("b");
      n.textContent = " " + p.count;
      line.append(name, n);
      li.appendChild(line);
      list.appendChild(li);
    }
    list.hidden = items.length === 0;
    empty.hidden = items.length > 0;
  }

  function summary(r) {
    const decided = Object.entries(r.decisions)
      .filter(([k, n]) => n && k !== "none")
      .map(([k, n]) => n + " " + k);
    // The parts add up to the sheet, and (after a pull) to what the pull read.
    const total = r.sheet_rows === undefined ? r.rows : r.sheet_rows;
    const gone = r.removed_rows;
    const parts = [r.rows + " of " + r.version + " (" + r.reviewed + " reviewed)"];
    if (gone && gone.rows) parts.push(gone.rows + " of images the last pull removed (" + gone.reviewed + " reviewed)");
    const extra = total - r.rows - (gone ? gone.rows : 0);
    if (extra) parts.push(extra + " of images removed earlier");
    return total + " rows in the sheet: " + parts.join(" and ") +
      (decided.length ? "; " + decided.join(", ") : "") + " (rule: " + r.rule + ")" +
      (r.run ? "" : "; no model run yet");
  }

  // The pull that made the current version, with the counts it reported (the same numbers as
  // `sheets-bridge pull` printed and `sheets-bridge report` shows).
  function lastPull(r) {
    const p = r.last_pull;
    if (!p) return "";
    const per = Object.entries(p.removes_by_annotator).map(([a, n]) => a + " " + n).join(", ");
    return "last pull (" + p.base + " → " + p.version + "): " + p.reviewed + " rows reviewed, " +
      p.relabelled + " relabelled, " + p.removed + " removed, " + p.moved + " moved, " +
      p.blocked + " blocked; x votes per annotator: " + (per || "none");
  }

  function show(r) {
    $("report-summary").textContent = summary(r);
    const last = $("report-last-pull");
    if (last) {
      last.textContent = lastPull(r);
      last.hidden = !r.last_pull;
    }
    const body = $("report-annotators").tBodies[0];
    body.replaceChildren();
    for (const name of r.annotators) {
      const s = r.annotator_stats[name];
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = name;
      tr.appendChild(th);
      cell(tr, String(s.votes), "num");
      cell(tr, String(s.removes), "num");
      cell(tr, pct(s.agreement_with_others), "num");
      cell(tr, pct(s.agreement_with_consensus), "num");
      cell(tr, pct(s.agreement_with_label), "num");
      cell(tr, s.crowdlab_quality === null || s.crowdlab_quality === undefined
        ? "–" : s.crowdlab_quality.toFixed(2), "num");
      body.appendChild(tr);
    }
    $("report-crowdlab").textContent = r.crowdlab.used
      ? "CROWDLAB weighs each annotator by this quality" +
        (r.crowdlab.model_weight !== null ? " and the model by " + r.crowdlab.model_weight.toFixed(2) : "") + "."
      : "CROWDLAB quality unavailable: " + r.crowdlab.reason + ".";
    pairs($("report-pairs"), r.top_pairs, $("report-pairs-empty"), " / ");
    $("report-pairs-hint").hidden = r.top_pairs.length === 0;
    pairs($("report-model"), r.matrices.model_vs_consensus.top.slice(0, 5),
      $("report-model-empty"), " → ");
    const open = $("report-unreviewed");
    open.replaceChildren();
    const seen = new Set();
    if (!r.unreviewed.some((u) => u.rows > 0)) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No row has a review rank yet: a push writes the rows and their order.";
      open.appendChild(li);
    }
    for (const u of r.unreviewed.filter((x) => x.rows > 0)) {
      // With fewer rows than 200 the last entries repeat the same rows: show them once.
      const key = u.rows + "/" + u.unreviewed;
      if (seen.has(key)) continue;
      seen.add(key);
      const li = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = "unreviewed in the top " + u.rows + " rows:";
      const n = document.createElement("b");
      n.textContent = String(u.unreviewed);
      const bar = document.createElement("progress");
      bar.max = u.rows;
      bar.value = u.rows - u.unreviewed;
      const done = document.createElement("span");
      done.className = "muted hint";
      done.textContent = (u.rows - u.unreviewed) + " of " + u.rows + " reviewed";
      li.append(what, n, bar, done);
      open.appendChild(li);
    }
    $("report-body").hidden = false;
  }

  async function load() {
    card.setAttribute("aria-busy", "true");
    try {
      const report = await sb.api("GET", "/api/report");
      show(report);
      if (sb.showAudit) sb.showAudit(report); // the model-side cards (audit.js)
      card.dataset.ready = "1";
    } catch (e) {
      $("report-summary").textContent = "The report could not be built: " + e.message;
      card.dataset.ready = "error";
    } finally {
      card.setAttribute("aria-busy", "false");
    }
  }

  $("report-refresh").addEventListener("click", load);
  load();
})();
