"""The dashboard's model-side cards and the UMAP colours, in a real browser."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from .conftest import TOKEN
from .test_pages import open_umap

pytestmark = pytest.mark.browser


def _loaded(locator) -> bool:
    return locator.evaluate("async (img) => { await img.decode(); return img.naturalWidth > 0; }")


def test_the_dashboard_shows_model_confusion_weak_groups_clusters_and_the_fixed_set(page, server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    report = page.request.get(f"{server}/api/report", headers=auth).json()
    page.goto(server + "/")
    page.wait_for_selector("#clusters[data-ready='1']", timeout=15_000)
    # model vs labels: each top pair with its images
    pairs = page.locator("#confusion-pairs > li")
    assert pairs.count() == len(report["label_confusion"]["top"]) > 0
    first = report["label_confusion"]["top"][0]
    assert f"label {first['a']} predicted as {first['b']}" in pairs.first.inner_text()
    shown = pairs.first.locator("a.thumb").evaluate_all("(as) => as.map((a) => a.dataset.id)")
    assert shown == first["examples"] and _loaded(pairs.first.locator("img").first)
    # where the model is weak: one row per class, the weakest groups' wrong images
    weak = report["weak"]
    assert page.locator("#weak-class tbody tr").count() == len(weak["per_class"])
    for g in weak["per_class"]:
        row = page.locator(f"#weak-class tbody tr[data-group='{g['group']}']")
        assert f"{g['correct']} / {g['n']}" in row.inner_text()
    groups = page.locator("#weak-examples .weak-group")
    expected = [g for g in weak["per_class"] + weak["per_cluster"] if g["weak"] and g["wrong"]]
    assert groups.count() == len(expected) > 0
    assert _loaded(groups.first.locator("img").first)
    # style clusters: train/val counts and example images for every cluster
    for c in report["clusters"]:
        part = page.locator(f"#clusters-list .cluster[data-cluster='{c['cluster']}']")
        assert f"{c['train']} train / {c['val']} val" in part.inner_text()
        assert part.locator("img").count() == len(c["examples"]) > 0
        assert _loaded(part.locator("img").first)
    # the accuracy chart draws the fixed evaluation set and says which set each line is
    chart = page.locator("#accuracy svg.chart")
    assert chart.locator("polyline[data-series='fixed_val']").count() == 1
    assert chart.locator("polyline[data-series='label_book']").count() == 1
    legend = chart.text_content()
    assert "fixed val (same images every version)" in legend and "label book" in legend


def test_selected_points_take_the_new_colour_when_colour_by_changes(page, server):
    points = open_umap(page, server)
    page.evaluate("""() => {
      const s = Bokeh.documents[0].get_model_by_name("points_source");
      s.selected.indices = s.data.id.map((_, i) => i);
    }""")
    page.wait_for_function("Number(document.getElementById('sel-count').textContent) > 0")
    # by label every class has a saturated colour; by "annotator agreement" unvoted rows are grey
    page.select_option("#colour", "agreement")
    votes = page.evaluate("""() => Bokeh.documents[0].get_model_by_name("points_source")
        .data.agreement.filter((a) => a === "no votes").length""")
    assert votes > len(points) // 2
    page.mouse.move(0, 0)  # no tooltip over the plot
    pixels = np.asarray(Image.open(io.BytesIO(page.locator("#plot").screenshot())).convert("RGB"))
    box = page.locator("#plot").bounding_box()
    grey = 0
    for p in points:
        x, y = round(p["x"] - box["x"]), round(p["y"] - box["y"])
        r, g, b = (int(v) for v in pixels[y, x])
        grey += max(r, g, b) - min(r, g, b) < 25 and max(r, g, b) < 235
    # a point drawn with a stale (label) colour is saturated at its centre
    assert grey >= votes - 3, f"{grey} of {votes} unvoted selected points are drawn grey"
