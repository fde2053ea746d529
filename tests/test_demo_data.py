"""The synthetic demo dataset: layout, determinism, planted problems and their ground truth."""

from __future__ import annotations

import csv
import hashlib
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sheets_bridge.loop.demo_data import (
    CLASSES,
    CONFUSABLE,
    GROUND_TRUTH_COLUMNS,
    PROBLEMS,
    SPLITS,
    make_demo_data,
)

SMALL = 200


def read_truth(root: Path) -> list[dict[str, str]]:
    with (root / "ground_truth.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def file_digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def image_path(root: Path, row: dict[str, str]) -> Path:
    return root / row["split"] / row["given_label"] / f"{row['id']}.png"


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The default-size dataset, generated once for the rate tests (and timed)."""
    root = tmp_path_factory.mktemp("default") / "demo"
    start = time.perf_counter()
    make_demo_data(root)
    return root, time.perf_counter() - start


def test_layout_has_three_splits_with_the_ten_class_folders(tmp_path: Path) -> None:
    summary = make_demo_data(tmp_path / "demo", n_images=SMALL, seed=3)
    root = tmp_path / "demo"
    assert sorted(p.name for p in root.iterdir()) == sorted([*SPLITS, "ground_truth.csv"])
    for split in ("train", "val"):
        assert sorted(p.name for p in (root / split).iterdir()) == sorted(CLASSES)
    assert sorted(p.name for p in (root / "label_book").iterdir()) == sorted(CLASSES)
    assert summary.total == SMALL == len(list(root.rglob("*.png")))
    assert summary.ground_truth == root / "ground_truth.csv"


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    make_demo_data(tmp_path / "a", n_images=SMALL, seed=7)
    make_demo_data(tmp_path / "b", n_images=SMALL, seed=7)
    a, b = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert len(a) == SMALL + 1
    assert a == b


def test_different_seed_gives_different_images(tmp_path: Path) -> None:
    make_demo_data(tmp_path / "a", n_images=SMALL, seed=1)
    make_demo_data(tmp_path / "b", n_images=SMALL, seed=2)
    a, b = file_digests(tmp_path / "a"), file_digests(tmp_path / "b")
    assert set(a.values()).isdisjoint(b.values())
    assert read_truth(tmp_path / "a") != read_truth(tmp_path / "b")


def test_ground_truth_lists_exactly_the_files_on_disk(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    summary = make_demo_data(root, n_images=SMALL, seed=5)
    with (root / "ground_truth.csv").open(encoding="utf-8") as f:
        assert f.readline().strip() == ",".join(GROUND_TRUTH_COLUMNS)
    rows = read_truth(root)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == SMALL
    assert {image_path(root, r) for r in rows} == set(root.rglob("*.png"))
    for r in rows:
        assert r["split"] in SPLITS
        assert r["given_label"] in CLASSES
        assert r["problem"] in PROBLEMS
        assert r["style"]
        if r["problem"] == "junk":
            assert r["true_label"] == ""
        else:
            assert r["true_label"] in CLASSES
        if r["problem"] == "wrong_label":
            assert r["given_label"] != r["true_label"]
        if r["problem"] in ("", "wrong_label"):
            assert r["duplicate_of"] == ""
        if r["problem"] == "":
            assert r["given_label"] == r["true_label"]
    assert Counter(r["split"] for r in rows) == summary.split_counts
    planted = Counter(r["problem"] for r in rows if r["problem"])
    assert planted == summary.problem_counts


def test_near_duplicates_point_at_a_similar_original(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    make_demo_data(root, n_images=SMALL, seed=9)
    rows = {r["id"]: r for r in read_truth(root)}

    def features(row: dict[str, str]) -> np.ndarray:
        # Brightness and contrast are normalised away: a re-exposed copy is still a copy.
        img = Image.open(image_path(root, row)).resize((32, 32), Image.Resampling.BILINEAR)
        v = np.asarray(img, dtype=np.float32).ravel()
        return (v - v.mean()) / (v.std() + 1e-6)

    dups = [r for r in rows.values() if r["problem"] == "near_duplicate"]
    assert dups
    candidates = [r for r in rows.values() if r["problem"] != "near_duplicate"]
    matrix = np.stack([features(r) for r in candidates])
    for dup in dups:
        orig = rows[dup["duplicate_of"]]
        assert orig["problem"] in ("", "wrong_label") and orig["split"] != "label_book"
        assert dup["true_label"] == orig["true_label"]
        similarity = matrix @ features(dup) / matrix.shape[1]
        nearest = candidates[int(np.argmax(similarity))]
        assert nearest["id"] == orig["id"]
        assert similarity.max() > 0.5


def test_label_book_is_clean_with_a_few_examples_per_class(
    default_demo: tuple[Path, float],
) -> None:
    rows = [r for r in read_truth(default_demo[0]) if r["split"] == "label_book"]
    assert all(r["problem"] == "" and r["given_label"] == r["true_label"] for r in rows)
    assert Counter(r["true_label"] for r in rows) == dict.fromkeys(CLASSES, 5)


def test_planted_problems_match_the_intended_rates(default_demo: tuple[Path, float]) -> None:
    rows = read_truth(default_demo[0])
    assert 1450 <= len(rows) <= 1550
    train_val = [r for r in rows if r["split"] != "label_book"]
    counts = Counter(r["problem"] for r in rows)
    assert 0.06 <= counts["wrong_label"] / len(train_val) <= 0.10
    assert 0.02 <= counts["junk"] / len(rows) <= 0.04
    assert 0.02 <= counts["near_duplicate"] / len(rows) <= 0.04
    assert 0.65 <= sum(r["split"] == "train" for r in train_val) / len(train_val) <= 0.75
    # Most wrong labels are near misses, not random classes.
    wrong = [r for r in rows if r["problem"] == "wrong_label"]
    near_miss = sum(r["given_label"] in CONFUSABLE[r["true_label"]] for r in wrong)
    assert near_miss / len(wrong) >= 0.6
    assert near_miss < len(wrong)


def test_near_duplicates_sometimes_cross_splits_or_change_label(
    default_demo: tuple[Path, float],
) -> None:
    rows = {r["id"]: r for r in read_truth(default_demo[0])}
    dups = [r for r in rows.values() if r["problem"] == "near_duplicate"]
    crossed = sum(r["split"] != rows[r["duplicate_of"]]["split"] for r in dups)
    relabelled = sum(r["given_label"] != rows[r["duplicate_of"]]["given_label"] for r in dups)
    assert 0.15 * len(dups) <= crossed <= 0.6 * len(dups)
    assert 1 <= relabelled <= 0.4 * len(dups)


def test_train_classes_are_imbalanced_and_val_roughly_balanced(
    default_demo: tuple[Path, float],
) -> None:
    rows = [r for r in read_truth(default_demo[0]) if r["problem"] in ("", "wrong_label")]
    train = Counter(r["true_label"] for r in rows if r["split"] == "train")
    val = Counter(r["true_label"] for r in rows if r["split"] == "val")
    assert set(train) == set(val) == set(CLASSES)
    assert 1.8 <= max(train.values()) / min(train.values()) <= 3.5
    assert max(val.values()) / min(val.values()) <= 1.6


def test_some_styles_appear_almost_only_in_one_split(default_demo: tuple[Path, float]) -> None:
    rows = [r for r in read_truth(default_demo[0]) if r["problem"] == ""]

    def share(split: str, style: str) -> float:
        in_split = [r for r in rows if r["split"] == split]
        return sum(r["style"].startswith(style + "-") for r in in_split) / len(in_split)

    for val_style in ("tiny", "ruled"):
        assert share("val", val_style) > 0.06
        assert share("train", val_style) < share("val", val_style) / 5
    assert share("train", "barred") > 0.08
    assert share("val", "barred") < share("train", "barred") / 5
    cases = Counter(r["style"].rsplit("-", 1)[1] for r in rows)
    assert cases["lower"] > 0.2 * len(rows) and cases["upper"] > 0.4 * len(rows)


def test_images_are_grayscale_pngs_of_varying_size(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    make_demo_data(root, n_images=SMALL, seed=11)
    sizes = set()
    for row in read_truth(root):
        with Image.open(image_path(root, row)) as img:
            assert img.format == "PNG"
            assert img.mode == "L"
            sizes.add(img.size)
            if row["problem"] == "":
                arr = np.asarray(img)
                assert np.median(arr) > 180, "paper should be light"
                assert arr.min() < 110, "a numeral should have dark ink"
    widths = {w for w, _ in sizes}
    assert len(sizes) > 50
    assert min(widths) < 90 and max(widths) > 170


def test_refuses_a_non_empty_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        make_demo_data(tmp_path, n_images=SMALL)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]


def test_refuses_a_folder_whose_ground_truth_is_someone_elses(tmp_path: Path) -> None:
    (tmp_path / "ground_truth.csv").write_text("path,label\na.png,ii\n")
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="not empty"):
        make_demo_data(tmp_path, n_images=SMALL)
    assert (tmp_path / "ground_truth.csv").read_text() == "path,label\na.png,ii\n"


def test_rewrites_its_own_demo_folder_and_leaves_other_files(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    make_demo_data(root, n_images=SMALL, seed=1)
    (root / "notes.txt").write_text("ours")
    make_demo_data(root, n_images=SMALL + 50, seed=2)
    rows = read_truth(root)
    assert len(rows) == SMALL + 50
    assert {image_path(root, r) for r in rows} == set(root.rglob("*.png"))
    assert (root / "notes.txt").read_text() == "ours"


@pytest.mark.parametrize("n_images", [0, 1, 99, 150.5])
def test_rejects_too_few_images(tmp_path: Path, n_images: float) -> None:
    with pytest.raises(ValueError, match="n_images"):
        make_demo_data(tmp_path / "demo", n_images=n_images)  # type: ignore[arg-type]
    assert not (tmp_path / "demo").exists()


def test_rejects_a_file_as_root(tmp_path: Path) -> None:
    target = tmp_path / "file.png"
    target.write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        make_demo_data(target, n_images=SMALL)


def test_describe_names_the_splits_and_the_planted_problems(tmp_path: Path) -> None:
    summary = make_demo_data(tmp_path / "demo", n_images=SMALL, seed=0)
    text = summary.describe()
    assert f"{SMALL} images" in text
    for split in SPLITS:
        assert f"{split} {summary.split_counts[split]}" in text
    p = summary.problem_counts
    assert f"{p['wrong_label']} wrong labels" in text
    assert f"{p['junk']} junk" in text
    assert f"{p['near_duplicate']} near-duplicates" in text
    assert "ground_truth.csv" in text
