// The dashboard's model-side cards, from the same /api/report as the "Disagreement" card (report.js
// calls sheetsBridge.showAudit with it): model vs labels with the images behind the top class pairs,
// accuracy per class and per style cluster on the fixed evaluation set with the weakest groups'
// wrong images, and the style clusters with their train/val counts and typical images.
// Everything is written with textContent: ids and class names come from files.
(function () {
  "use strict";
  const sb = window.sheetsBridge;
  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function pct(x) {
    return x === null || x === undefined ? "–" : Math.round(x * 100) + " %";
  }

  // A row of thumbnails; each opens the full image, its caption says what it is.
  function thumbs(items) {
    const box = el("div", "thumbs");
    for (const it of items) {
      const a = el("a", "thumb");
      a.href = "/images/" + encodeURIComponent(it.id);
      a.target = "_blank";
      a.rel = "noopener";
      a.title = it.title || it.id;
      a.dataset.id = it.id;
      const img = el("img");
      img.loading = "lazy";
      img.alt = it.id;
      img.src = sb.thumb(it.id);
      a.append(img, el("span", "", it.caption || ""));
      box.append(a);
    }
    return box;
  }

  function confusion(c) {
    const list = $("confusion-pairs");
    list.replaceChildren();
    const top = (c && c.top) || [];
    $("confusion-summary").textContent = c
      ? c.wrong + " of " + c.images + " images: the model predicts another class than the label"
      : "";
    for (const p of top) {
      const li = el("li");
      li.dataset.pair = p.a + "/" + p.b;
      const head = el("p", "pair-head");
      head.append(el("span", "pair", "label " + p.a + " predicted as " + p.b + ": "), el("b", "", String(p.count)));
      li.append(head, thumbs(p.examples.map((id) => ({
        id, caption: p.a + "→" + p.b, title: id + ": label " + p.a + ", model " + p.b,
      }))));
      list.append(li);
    }
    list.hidden = top.length === 0;
    $("confusion-empty").hidden = top.length > 0;
  }

  function groupRows(table, groups) {
    const body = table.tBodies[0];
    body.replaceChildren();
    for (const g of groups) {
      const tr = el("tr", g.weak ? "weak" : "");
      tr.dataset.group = g.group;
      const th = el("th", "", g.group);
      th.scope = "row";
      const bar = el("progress");
      bar.max = 1;
      bar.value = g.accuracy;
      const barCell = el("td");
      barCell.append(bar);
      if (g.weak) barCell.append(el("span", "badge", "weakest"));
      tr.append(th, el("td", "num", g.correct + " / " + g.n), el("td", "num", pct(g.accuracy)), barCell);
      body.append(tr);
    }
  }

  function weak(w) {
    const box = $("weak-examples");
    box.replaceChildren();
    $("weak-body").hidden = !w;
    $("weak-empty").hidden = !!w;
    if (!w) {
      $("weak-summary").textContent = "";
      return;
    }
    $("weak-summary").textContent = w.n + " images, " + pct(w.accuracy) + " right (" +
      w.predictions + " predictions)";
    groupRows($("weak-class"), w.per_class);
    groupRows($("weak-cluster"), w.per_cluster);
    $("weak-cluster").closest("div").hidden = w.per_cluster.length === 0;
    for (const [kind, groups] of [["class", w.per_class], ["cluster", w.per_cluster]]) {
      for (const g of groups.filter((x) => x.weak && x.wrong.length)) {
        const part = el("div", "weak-group");
        part.dataset.kind = kind;
        part.dataset.group = g.group;
        part.append(el("h3", "", kind + " " + g.group + ": " + pct(g.accuracy) + " of " + g.n + " right; wrong:"));
        part.append(thumbs(g.wrong.map((x) => ({
          id: x.id, caption: x.label + "→" + x.pred, title: x.id + ": label " + x.label + ", model " + x.pred,
        }))));
        box.append(part);
      }
    }
  }

  function clusters(list) {
    const box = $("clusters-list");
    box.replaceChildren();
    $("clusters-summary").textContent = list.length ? list.length + " clusters" : "";
    for (const c of list) {
      const part = el("div", "cluster");
      part.dataset.cluster = c.cluster;
      const head = el("p", "cluster-head");
      head.append(el("b", "", "cluster " + c.cluster), el("span", "counts", " " + c.train + " train / " + c.val + " val"));
      if (c.split && c.split !== "both") head.append(el("span", "badge", c.split));
      part.append(head, thumbs(c.examples.map((id) => ({ id, title: id + " (cluster " + c.cluster + ")" }))));
      box.append(part);
    }
    $("clusters-empty").hidden = list.length > 0;
  }

  sb.showAudit = function (report) {
    confusion(report.label_confusion);
    weak(report.weak);
    clusters(report.clusters || []);
    for (const id of ["model-confusion", "weak", "clusters"]) $(id).dataset.ready = "1";
  };
})();
