"""The grid in a real browser: zoom, full headers and frozen columns, keyboard votes in the
reviewer's own column (conflicts shown, never overwritten), "my unvoted rows", and "add me"."""

from __future__ import annotations

import pytest

from sheets_bridge.core import config as config_mod
from sheets_bridge.sheets.local import LocalSheet

pytestmark = pytest.mark.browser


def open_grid(page, server, author: str = ""):
    page.goto(f"{server}/sheet")
    if author:
        page.fill("#author", author)
        page.dispatch_event("#author", "change")
    page.wait_for_selector("body[data-grid-ready='1'] .tabulator-row.current", timeout=20_000)
    # the reviewer clicks the first row (the keys act on the grid, not on the name box)
    page.locator(".tabulator-row").first.locator(".tabulator-cell[tabulator-field='label']").click()


def current_id(page) -> str:
    return page.locator(".tabulator-row.current .tabulator-cell[tabulator-field='id']").inner_text()


def test_thumbnails_zoom_headers_show_in_full_and_image_and_id_stay_put(page, server):
    open_grid(page, server)
    clipped = page.evaluate("""() => [...document.querySelectorAll('#grid .tabulator-col-title')]
      .filter((t) => t.textContent && t.scrollWidth > t.clientWidth + 1).map((t) => t.textContent)""")
    assert clipped == []
    titles = page.locator("#grid .tabulator-col-title").all_inner_texts()
    assert "label_quality" in titles and "annotator_1" in titles
    thumb = page.locator(
        ".tabulator-row.current .tabulator-cell[tabulator-field='image'] img.thumb"
    )
    thumb.hover()  # hovering shows the full image
    zoomed = page.locator("#zoom img")
    zoomed.wait_for(state="visible")
    page.wait_for_function("() => document.getElementById('zoom-img').naturalWidth > 0")
    assert zoomed.bounding_box()["width"] >= 256 > thumb.bounding_box()["width"]
    page.mouse.move(5, 5)
    page.wait_for_selector("#zoom", state="hidden")
    thumb.click()  # a click keeps it open until Esc
    page.mouse.move(5, 5)
    assert page.locator("#zoom").is_visible()
    page.keyboard.press("Escape")
    page.wait_for_selector("#zoom", state="hidden")
    page.keyboard.press("z")  # the current row's image
    page.wait_for_selector("#zoom:not(.hover)", state="visible")
    assert current_id(page) in page.inner_text("#zoom-caption")
    page.keyboard.press("z")
    page.wait_for_selector("#zoom", state="hidden")

    def left(field: str) -> float:
        cell = page.locator(f".tabulator-row.current .tabulator-cell[tabulator-field='{field}']")
        return cell.bounding_box()["x"]

    before = {f: left(f) for f in ("id", "image", "issues")}
    page.evaluate("document.querySelector('#grid .tabulator-tableholder').scrollLeft = 5000")
    page.wait_for_function(
        "() => document.querySelector('#grid .tabulator-tableholder').scrollLeft > 0"
    )
    page.wait_for_function(
        f"""() => document.querySelector(".tabulator-row.current [tabulator-field='issues']")
        .getBoundingClientRect().x < {before["issues"] - 50}"""
    )
    assert left("id") == before["id"] and left("image") == before["image"]


def test_keys_vote_in_my_column_and_a_colleagues_change_is_shown_not_overwritten(
    page, server, trained_workspace
):
    sheet = LocalSheet(trained_workspace / "sheet.db")
    classes = config_mod.load(trained_workspace, env={}).classes
    open_grid(page, server, author="annotator_2")
    assert page.locator("#me").input_value() == "annotator_2"
    assert not page.locator("#add-me").is_visible()  # annotator_2 has a column already
    legend = page.inner_text("#legend")
    assert f"1 {classes[0]}" in legend.replace("\n", " ") and "remove" in legend
    ids = page.locator(".tabulator-cell[tabulator-field='id']").all_inner_texts()[:4]
    sheet.edit([(ids[3], "annotator_2", classes[0])], author="colleague")  # not seen by the page
    try:
        for keys in ("2", "x", "?"):
            page.keyboard.press(keys)
        page.wait_for_function(f"() => document.body.dataset.currentRow === {ids[3]!r}")
        page.wait_for_function("() => document.body.dataset.pending === '0'")
        votes = {r: sheet.read().by_id()[r]["annotator_2"] for r in ids}
        assert votes == {ids[0]: classes[1], ids[1]: "x", ids[2]: "?", ids[3]: classes[0]}
        assert all(e["author"] == "annotator_2" for e in sheet.edit_log()[-3:])
        page.keyboard.press("3")  # the colleague's vote is there: shown, left alone
        page.wait_for_selector("#toast.show.error")
        page.wait_for_function("() => document.body.dataset.pending === '0'")
        assert f'changed to "{classes[0]}"' in page.inner_text("#toast")
        assert sheet.read().by_id()[ids[3]]["annotator_2"] == classes[0]
        row = page.locator(".tabulator-row").filter(
            has=page.locator(f".tabulator-cell[tabulator-field='id']:text-is('{ids[3]}')")
        )
        assert (
            row.locator(".tabulator-cell[tabulator-field='annotator_2']").inner_text() == classes[0]
        )
        page.wait_for_selector("#progress .person.me[data-name='annotator_2']")
        page.wait_for_function(
            "() => document.querySelector(\"#progress [data-name='annotator_2']\").textContent"
            " === 'annotator_2 4 / 36'",  # 3 counted at once, the colleague's at the next count
            timeout=60_000,
        )
        loads = page.evaluate("document.body.dataset.loads")
        page.check("#only-unvoted")
        page.wait_for_function(f"() => document.body.dataset.loads !== {loads!r}")
        assert page.inner_text("#grid-count") == "32 of 36 rows"
        shown = set(page.locator(".tabulator-cell[tabulator-field='id']").all_inner_texts())
        assert shown and shown.isdisjoint(ids)
    finally:
        sheet.edit([(r, "annotator_2", "") for r in ids], author="test cleanup")


def test_a_new_person_adds_their_column_from_the_grid_and_votes_in_it(
    page, server, trained_workspace
):
    open_grid(page, server, author="Zoë")
    assert page.locator("#me").input_value() == ""
    assert page.inner_text("#add-me") == "Add Zoë as an annotator"
    page.click("#add-me")
    page.wait_for_selector("#grid .tabulator-col[tabulator-field='Zoë']", timeout=20_000)
    page.wait_for_selector("body[data-grid-ready='1'] .tabulator-row.current")
    assert "Zoë" in config_mod.load(trained_workspace, env={}).annotators
    assert page.locator("#me").input_value() == "Zoë"
    rid = current_id(page)
    page.keyboard.press("1")
    page.wait_for_function(f"() => document.body.dataset.currentRow !== {rid!r}")
    page.wait_for_function("() => document.body.dataset.pending === '0'")
    sheet = LocalSheet(trained_workspace / "sheet.db")
    first = config_mod.load(trained_workspace, env={}).classes[0]
    assert sheet.read().by_id()[rid]["Zoë"] == first
