"""Image-quality issues (cleanvision) on real generated images, scored against planted junk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.quality import image_quality, merge_issues, precision_recall
from sheets_bridge.loop.demo_data import make_demo_data
from sheets_bridge.loop.demo_shapes import make_shapes_data


def _table(root):
    truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False, dtype=str)
    paths = [str(root / r.split / r.given_label / f"{r.id}.png") for r in truth.itertuples()]
    return truth, image_quality(paths, list(truth["id"]))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    make_shapes_data(root, n_images=300, seed=3)
    return _table(root)


def test_planted_junk_is_found_with_few_false_alarms(shapes):
    truth, table = shapes
    assert list(table["id"]) == list(truth["id"])
    junk = (truth["problem"] == "junk").to_numpy()
    precision, recall = precision_recall(table["quality_issues"] != "", junk)
    assert precision >= 0.9 and recall >= 0.6, (precision, recall)
    by_kind = dict(zip(truth["id"], truth["style"], strict=True))
    words = dict(zip(table["id"], table["quality_issues"], strict=True))
    expected = {
        "junk-dark": "very dark",
        "junk-overexposed": "overexposed",
        "junk-strip": "odd aspect ratio",
        "junk-grayscale": "grayscale",
        "junk-blank": "low information",
    }
    for kind, word in expected.items():
        ids = [i for i, k in by_kind.items() if k == kind]
        assert ids and all(word in words[i] for i in ids), (kind, [words[i] for i in ids])


def test_gray_datasets_are_not_called_grayscale(tmp_path):
    make_demo_data(tmp_path / "numerals", n_images=100, seed=0)
    _, table = _table(tmp_path / "numerals")
    assert not table["is_grayscale"].any()
    assert not table["quality_issues"].str.contains("grayscale").any()


def test_gray_file_among_colour_files_is_grayscale(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        arr = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        paths.append(tmp_path / f"c{i}.png")
        Image.fromarray(arr, "RGB").save(paths[-1])
    Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8), "L").save(tmp_path / "g.png")
    paths.append(tmp_path / "g.png")  # stored as gray: cleanvision's own check
    table = image_quality(paths, [p.stem for p in paths])
    assert table.set_index("id").loc["g", "is_grayscale"]
    assert table["is_grayscale"].sum() == 1


def test_merge_keeps_order_says_what_to_do_and_drops_repeats():
    from model.words import quality_words

    blurry = quality_words("blurry")
    merged = merge_issues(
        ["label?: looks like a (90%)", "", blurry], ["very dark", "", "blurry; odd size"]
    )
    assert merged == [
        f"label?: looks like a (90%); {quality_words('very dark')}",
        "",
        f"{blurry}; {quality_words('odd size')}",
    ]
    assert blurry.startswith("blurry: ") and "x if it does not belong" in blurry


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not found, e.g. .*missing.png"):
        image_quality([tmp_path / "missing.png"])
    with pytest.raises(ValueError, match="unknown issue type"):
        image_quality([], issue_types=["fuzzy"])
    empty = image_quality([])
    assert list(empty.columns[:2]) == ["id", "quality_issues"] and len(empty) == 0


def test_images_that_share_one_file_are_checked_once_and_all_reported(tmp_path):
    import numpy as np
    from PIL import Image

    from model.quality import image_quality

    f = tmp_path / "a.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(f)
    g = tmp_path / "b.png"
    Image.fromarray((np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)).save(g)
    table = image_quality([f, f, g], ["one", "two", "three"])
    assert list(table["id"]) == ["one", "two", "three"]
    assert table["quality_issues"][0] == table["quality_issues"][1]
