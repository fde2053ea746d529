"""The pages in a real browser: the map draws, hover shows the image, actions and grid edits persist."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from sheets_bridge.sheets.local import LocalSheet

pytestmark = pytest.mark.browser

# Screen position of every point: the plot view's scales map data to canvas pixels.
POINTS_JS = """() => {
  const view = [...Bokeh.index.roots].find((v) => v.frame);
  const source = Bokeh.documents[0].get_model_by_name("points_source");
  const box = view.canvas_view.el.getBoundingClientRect();
  return source.data.id.map((id, i) => ({
    id, subset: source.data.subset[i],
    x: box.left + view.frame.x_scale.compute(source.data.x[i]),
    y: box.top + view.frame.y_scale.compute(source.data.y[i]),
  }));
}"""


def open_umap(page, server):
    page.goto(f"{server}/umap")
    page.wait_for_selector("body[data-plot-ready='1']", timeout=20_000)
    return page.evaluate(POINTS_JS)


def test_the_umap_page_draws_every_point_of_the_run(page, server, trained_workspace):
    points = open_umap(page, server)
    ids = set(LocalSheet(trained_workspace / "sheet.db").read().ids)
    assert len(points) == 36 and {p["id"] for p in points} == ids  # every train and val image
    plot = page.locator("#plot")
    pixels = np.asarray(Image.open(io.BytesIO(plot.screenshot())).convert("RGB")).astype(int)
    coloured = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())
    assert coloured > 36 * 10, "the points are not drawn"
    page.select_option("#colour", "subset")
    assert "train (" in page.inner_text("#legend") and "val (" in page.inner_text("#legend")


def test_hovering_a_point_shows_its_image(page, server):
    point = open_umap(page, server)[0]
    page.mouse.move(point["x"] + 40, point["y"] + 40)
    page.mouse.move(point["x"], point["y"])
    image = page.locator("img[src*='?thumb=1']").first  # inside Bokeh's tooltip (shadow DOM)
    image.wait_for(state="visible", timeout=10_000)
    assert image.evaluate("async (img) => { await img.decode(); return img.naturalWidth; }") > 0
    assert page.get_by_text(point["id"]).first.is_visible()


def lasso(page, x: float, y: float, radius: float = 30) -> None:
    page.mouse.move(x + radius, y)
    page.mouse.down()
    for k in range(1, 33):
        angle = 2 * math.pi * k / 32
        page.mouse.move(x + radius * math.cos(angle), y + radius * math.sin(angle))
    page.mouse.up()


def test_a_lasso_selection_marked_for_removal_is_written_to_the_sheet(
    page, server, trained_workspace
):
    sheet = LocalSheet(trained_workspace / "sheet.db")
    target = next(p for p in open_umap(page, server) if p["subset"] == "train")
    lasso(page, target["x"], target["y"])
    page.wait_for_function("Number(document.getElementById('sel-count').textContent) > 0")
    selected = page.evaluate("""() => {
      const s = Bokeh.documents[0].get_model_by_name("points_source");
      return s.selected.indices.map((i) => [s.data.id[i], s.data.subset[i]]);
    }""")
    assert target["id"] in {i for i, _ in selected}
    assert page.locator("#sel-grid img").count() == len(selected)
    page.fill("#author", "ana")
    page.dispatch_event("#author", "change")
    page.click("#act-remove")
    page.wait_for_selector("#toast.show")
    assert "cell(s) changed" in page.inner_text("#toast")
    rows = sheet.read().by_id()
    in_sheet = [i for i, subset in selected if subset in ("train", "val")]
    try:
        assert in_sheet and all(rows[i]["override"] == "x" for i in in_sheet)
        assert sheet.edit_log()[-1]["author"] == "ana"
    finally:
        sheet.edit([(i, "override", "") for i in in_sheet], author="test cleanup")


def test_the_grid_shows_the_rows_and_an_edited_label_persists_after_reload(
    page, server, trained_workspace
):
    page.goto(f"{server}/sheet")
    page.wait_for_selector("body[data-grid-ready='1']", timeout=20_000)
    assert page.inner_text("#grid-count") == "36 of 36 rows"
    row = page.locator(".tabulator-row").first
    rid = row.locator(".tabulator-cell[tabulator-field='id']").inner_text()
    assert row.locator(".tabulator-cell[tabulator-field='image'] img[src*='?thumb=1']").count() == 1
    # the nearest label-book images of the label's and of the predicted class, beside it
    for column in ("label_example", "pred_example"):
        assert row.locator(f".tabulator-cell[tabulator-field='{column}'] img").count() == 1
    cell = row.locator(".tabulator-cell[tabulator-field='annotator_1']")
    cell.click()
    page.keyboard.type("iii")
    page.keyboard.press("Enter")
    page.wait_for_selector(".tabulator-cell.saved")
    assert LocalSheet(trained_workspace / "sheet.db").read().by_id()[rid]["annotator_1"] == "iii"
    page.reload()
    page.wait_for_selector("body[data-grid-ready='1']")
    page.fill("#search", rid)
    again = page.locator(".tabulator-row").filter(
        has=page.locator(f".tabulator-cell[tabulator-field='id']:text-is('{rid}')")
    )
    assert again.locator(".tabulator-cell[tabulator-field='annotator_1']").inner_text() == "iii"


def test_the_grid_refuses_a_label_it_cannot_read_and_shows_why(page, server, trained_workspace):
    page.goto(f"{server}/sheet")
    page.wait_for_selector("body[data-grid-ready='1']", timeout=20_000)
    row = page.locator(".tabulator-row").nth(1)
    rid = row.locator(".tabulator-cell[tabulator-field='id']").inner_text()
    row.locator(".tabulator-cell[tabulator-field='override']").click()
    page.keyboard.type("vij")
    page.keyboard.press("Enter")
    page.wait_for_selector("#toast.show.error")
    assert "unknown label 'vij'" in page.inner_text("#toast")
    assert LocalSheet(trained_workspace / "sheet.db").read().by_id()[rid]["override"] == ""
    assert row.locator(".tabulator-cell[tabulator-field='override']").inner_text().strip() == ""


def test_the_dashboard_starts_a_push_and_shows_it_finish(page, server):
    page.goto(server + "/")
    assert page.locator("table.versions").inner_text().count("v0001") == 1
    page.wait_for_selector("#report[data-ready='1']", timeout=10_000)
    assert "annotator_1" in page.inner_text("#report-annotators")  # loaded from /api/report
    page.click("button[data-start='push']")
    page.wait_for_selector("#job-state.done", timeout=30_000)
    assert "pushed 36 rows" in page.inner_text("#job-message")
