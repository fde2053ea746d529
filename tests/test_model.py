"""The model package end to end: a tiny real dataset, real training, real files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw, ImageFilter

from model.embed import normalize
from model.junk import BLUR_Z, CROP_Z, class_distance, junk_model_adds
from model.junk_model import MIN_TRAIN
from model.predict import load_checkpoint
from model.second_look import ImageLook, junk_evidence
from model.train import run_training

CLASSES = ["i", "ii", "iii"]
FOLDS = 3


def draw(label: str, rng: np.random.Generator) -> Image.Image:
    """1, 2 or 3 vertical strokes with jittered position, height, slant and thickness."""
    w, h = int(rng.integers(36, 60)), int(rng.integers(36, 60))
    im = Image.new("L", (w, h), 255)
    d = ImageDraw.Draw(im)
    n = len(label)
    gap = w / (n + 1)
    thick = int(rng.integers(3, 6))
    for k in range(n):
        x = gap * (k + 1) + rng.uniform(-2, 2)
        slant = rng.uniform(-3, 3)
        d.line(
            [(x - slant, h * 0.15), (x + slant, h * 0.85)],
            fill=int(rng.integers(0, 60)),
            width=thick,
        )
    return im


def make_dataset(root: Path, per_class: int, seed: int = 0, flips: float = 0.0) -> pd.DataFrame:
    """Images on disk and their manifest (train/val/label_book); ``flips`` relabels some rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in CLASSES:
        for j in range(per_class + 1):
            split = "label_book" if j == 0 else ("val" if j % 4 == 0 else "train")
            path = root / split / label / f"{label}-{j}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            draw(label, rng).save(path)
            rows.append(
                {
                    "id": f"{label}-{j}",
                    "path": str(path),
                    "label": label,
                    "split": split,
                    "origin": "source",
                    "parent_id": "",
                    "sha256": "",
                    "truth": label,
                }
            )
    frame = pd.DataFrame(rows)
    if flips:
        pool = np.flatnonzero(frame["split"].isin(["train", "val"]).to_numpy())
        chosen = rng.choice(pool, size=int(round(flips * len(pool))), replace=False)
        for i in chosen:
            others = [c for c in CLASSES if c != frame.at[i, "label"]]
            frame.at[i, "label"] = others[int(rng.integers(len(others)))]
    return frame


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("shapes")
    frame = make_dataset(root, per_class=16)
    # a byte-identical copy of one image, filed under another label
    src = frame.loc[frame["id"] == "i-1", "path"].item()
    copy = root / "train" / "ii" / "copy-of-i-1.png"
    shutil.copyfile(src, copy)
    extra = {
        "id": "copy-of-i-1",
        "path": str(copy),
        "label": "ii",
        "split": "train",
        "origin": "source",
        "parent_id": "",
        "sha256": "",
        "truth": "i",
    }
    return pd.concat([frame, pd.DataFrame([extra])], ignore_index=True)


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    calls: list[tuple[str, float]] = []
    metrics = run_training(
        dataset.drop(columns="truth"),
        CLASSES,
        out,
        folds=FOLDS,
        epochs=8,
        seed=0,
        cache_dir=out.parent / "cache",
        progress=False,
        on_progress=lambda step, f: calls.append((step, f)),
    )
    return out, metrics, calls


def pool_of(dataset: pd.DataFrame) -> pd.DataFrame:
    return dataset[dataset["split"].isin(["train", "val"])].reset_index(drop=True)


def test_run_writes_every_file_with_the_promised_shapes(run, dataset):
    out, metrics, _ = run
    pool = pool_of(dataset)
    n = len(pool)
    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds.columns) == ["id", "split", "label", "pred", "confidence", "fold"] + [
        f"p_{c}" for c in CLASSES
    ]
    assert preds["id"].tolist() == pool["id"].tolist()
    probs = preds[[f"p_{c}" for c in CLASSES]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    assert (preds["pred"] == np.asarray(CLASSES)[probs.argmax(1)]).all()
    assert np.allclose(preds["confidence"], probs.max(1))
    assert set(preds["fold"]) == set(range(FOLDS))

    emb = np.load(out / "embeddings.npy")
    xy = np.load(out / "umap.npy")
    assert emb.dtype == np.float32 and emb.shape[0] == n and emb.shape[1] > 1
    assert xy.dtype == np.float32 and xy.shape == (n, 2) and np.isfinite(xy).all()

    scores = pd.read_csv(out / "scores.csv", keep_default_na=False)
    assert list(scores.columns) == [
        "id",
        "label_quality",
        "suspect",
        "typicality",
        "nearest_label_book",
        "nearest_label_book_similarity",
        "duplicate_of",
        "duplicate_conflict",
        "outlier",
        "cluster",
        "cluster_split",
        "class_distance",
        "junk",
        "crop_distance",
        "sharpness_z",
        "junk_probability",
        "label_example",
        "pred_example",
        "issues",
    ]
    assert scores["id"].tolist() == pool["id"].tolist()
    assert scores["label_quality"].between(0, 1).all()
    assert scores["outlier"].between(0, 1).all()
    assert scores["typicality"].between(-1, 1.0001).all()
    assert set(scores["cluster_split"]) <= {"train-only", "val-only", "both"}
    book = set(dataset.loc[dataset["split"] == "label_book", "id"])
    assert set(scores["nearest_label_book"]) <= book
    assert scores["nearest_label_book_similarity"].astype(float).between(-1, 1.0001).all()

    for key in (
        "preset",
        "seed",
        "folds",
        "epochs",
        "device",
        "torch_version",
        "n_train",
        "n_val",
        "val_accuracy",
        "oof_accuracy",
        "eval",
        "best_epoch",
        "timings",
        "images_per_s",
    ):
        assert key in metrics
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["n_train"] + metrics["n_val"] == n
    assert set(metrics["timings"]) >= {"load", "folds", "final", "embed", "umap", "scores", "total"}
    assert "label_book" in metrics["eval"]


def test_model_learns_the_shapes(run):
    _, metrics, _ = run
    losses = metrics["history"]["train_loss"]
    assert losses[-1] < 0.7 * losses[0]
    assert metrics["val_accuracy"] >= 0.8
    assert metrics["oof_accuracy"] >= 0.7


def test_every_image_is_held_out_once_by_a_model_that_never_trained_on_it(run, dataset):
    out, _, _ = run
    pool = pool_of(dataset)
    doc = json.loads((out / "folds.json").read_text())
    held = [set(f["heldout"]) for f in doc["folds"]]
    assert sum(len(h) for h in held) == len(pool)
    assert set().union(*held) == set(pool["id"])
    for f, h in zip(doc["folds"], held, strict=True):
        trained = set(f["trained_on"])
        assert not trained & h
        assert trained | h == set(pool["id"])
    preds = pd.read_csv(out / "predictions.csv")
    for k, h in enumerate(held):
        assert set(preds.loc[preds["fold"] == k, "id"]) == h
    assert set(doc["final"]["trained_on"]) == set(pool.loc[pool["split"] == "train", "id"])


def test_checkpoint_rebuilds_the_model_and_its_class_names(run, dataset):
    from model.predict import load_checkpoint, predict_images, predict_paths

    out, metrics, _ = run
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.classes == CLASSES
    assert ckpt.config.name == "fast" and ckpt.meta["seed"] == 0
    pool = pool_of(dataset)
    from model.data import load_images

    emb = predict_images(ckpt, load_images(pool["path"].tolist()), embed=True)
    # a CUDA run's convolutions may use TF32, a CPU reload does not
    atol = 1e-4 if metrics["device"] == "cpu" else 2e-2
    assert np.allclose(emb, np.load(out / "embeddings.npy"), atol=atol)
    book = dataset[dataset["split"] == "label_book"]
    probs = predict_paths(out / "model.pt", book["path"].tolist())
    assert probs.shape == (len(book), len(CLASSES))
    acc = float((np.asarray(CLASSES)[probs.argmax(1)] == book["label"].to_numpy()).mean())
    assert acc == pytest.approx(metrics["eval"]["label_book"])


def test_byte_identical_copy_with_another_label_is_reported(run):
    out, _, _ = run
    scores = pd.read_csv(out / "scores.csv", keep_default_na=False).set_index("id")
    assert scores.at["copy-of-i-1", "duplicate_of"] == "i-1"
    assert scores.at["i-1", "duplicate_of"] == "copy-of-i-1"
    assert str(scores.at["i-1", "duplicate_conflict"]) == "True"
    assert (
        "duplicate: the same file as copy-of-i-1, which is labelled ii: type the right class in "
        "both rows" in scores.at["i-1", "issues"]
    )


def test_progress_reaches_one_in_order(run):
    _, _, calls = run
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == pytest.approx(1.0)
    # the train step names what is training: "train: fold 2/3, epoch 4/8, ..."
    assert {s.split(":")[0] for s, _ in calls} == {"load", "train", "embed", "umap", "scores"}


def test_same_seed_gives_the_same_run(dataset, tmp_path):
    frame = dataset.drop(columns="truth")
    results = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / name
        out.mkdir()
        run_training(frame, CLASSES, out, folds=FOLDS, epochs=1, seed=seed, progress=False)
        results.append(pd.read_csv(out / "predictions.csv"))
    cols = [f"p_{c}" for c in CLASSES]
    assert np.allclose(results[0][cols], results[1][cols], atol=1e-6)
    assert (results[0]["fold"] == results[1]["fold"]).all()
    assert not np.allclose(results[0][cols], results[2][cols], atol=1e-3)


def test_planted_label_flips_get_lower_label_quality(tmp_path):
    frame = make_dataset(tmp_path, per_class=24, seed=3, flips=0.12)
    out = tmp_path / "run"
    out.mkdir()
    run_training(frame.drop(columns="truth"), CLASSES, out, folds=FOLDS, epochs=10, progress=False)
    scores = pd.read_csv(out / "scores.csv").set_index("id")
    pool = pool_of(frame).set_index("id")
    flipped = pool["label"] != pool["truth"]
    assert flipped.sum() >= 5
    q = scores.loc[pool.index, "label_quality"]
    assert q[flipped].mean() < q[~flipped].mean() - 0.3
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(flipped, -q) > 0.85


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, kw: kw.update(preset="huge"), "unknown preset 'huge'"),
        (lambda m, kw: kw.update(classes=["i"]), "at least 2 classes"),
        (lambda m, kw: kw.update(folds=1), "folds must be an integer >= 2"),
        (lambda m, kw: kw.update(folds=20), "class 'i' has"),
        (lambda m, kw: kw.update(epochs=0), "epochs must be at least 1"),
        (
            lambda m, kw: m.__setitem__("label", m["label"].replace("iii", "iv")),
            "not among the classes",
        ),
        (lambda m, kw: m.pop("split"), "lacks column"),
        (lambda m, kw: m.__setitem__("id", "same"), "unique"),
        (lambda m, kw: m.__setitem__("split", m["split"].replace("val", "valid")), "unknown split"),
        (lambda m, kw: m.__setitem__("path", m["path"] + ".gone"), "not found"),
        (lambda m, kw: kw.update(out_dir=Path("/nonexistent/run")), "does not exist"),
        (lambda m, kw: kw.update(eval_sets={"x": m[["path"]]}), "eval set 'x'"),
    ],
)
def test_bad_input_raises_a_clear_value_error(dataset, tmp_path, change, message):
    manifest = dataset.drop(columns="truth").copy()
    kwargs = {"classes": CLASSES, "out_dir": tmp_path, "epochs": 1, "progress": False}
    change(manifest, kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_training(manifest, **kwargs)


def test_scores_hold_the_junk_second_looks_evidence_where_it_was_taken(run):
    out, metrics, _ = run
    scores = pd.read_csv(out / "scores.csv")
    summary = metrics["junk_evidence"]
    assert summary["second_look"] == "cropped view and blur"
    assert scores["crop_distance"].notna().sum() == summary["candidates"]
    assert scores["sharpness_z"].notna().sum() == summary["blur_checked"]
    # too few images to learn what junk looks like here: the junk model says so
    assert summary["junk_model"] == f"skipped: {len(scores)} images, {MIN_TRAIN} needed"
    assert scores["junk_probability"].isna().all()
    # every junk flag passed the veto (or came from the blur test or the junk model)
    junk = scores[scores["junk"]]
    assert (
        (junk["crop_distance"] >= CROP_Z)
        | (junk["sharpness_z"] <= BLUR_Z)
        | junk_model_adds(junk["class_distance"], junk["junk_probability"])
    ).all()
    assert metrics["n_junk"] == len(junk)


def test_the_second_look_vetoes_ordinary_images_and_keeps_noise_and_blur(run, dataset, tmp_path):
    """The run's final model looks again at three typical images the first rule is made to flag
    (vetoed: cropped, they sit in their class), a page of noise (kept) and a blurred copy (added)."""
    out, _, _ = run
    pool = pool_of(dataset)
    rng = np.random.default_rng(0)
    noise, blurred = tmp_path / "noise.png", tmp_path / "blurred.png"
    Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(noise)
    Image.open(pool.at[0, "path"]).filter(ImageFilter.GaussianBlur(6)).save(blurred)
    paths = [*pool["path"], str(noise), str(blurred)]
    n = len(paths)
    preds = pd.read_csv(out / "predictions.csv")
    probs = np.vstack([preds[[f"p_{c}" for c in CLASSES]].to_numpy(), np.eye(3)[[0, 0]]])
    typical = np.argsort(
        class_distance(normalize(np.load(out / "embeddings.npy")), probs[: len(pool)].argmax(1), 3)
    )[:3]
    distance_z, share = np.zeros(n), np.ones(n)
    first = [*typical, n - 2]
    distance_z[first], share[first], probs[first] = 6.0, 0.3, 1 / 3
    distance_z[n - 1] = 2.5  # somewhat far and sure of itself: only the blur test can flag it

    look = ImageLook(load_checkpoint(out / "model.pt"), paths)
    ev = junk_evidence(distance_z, probs, share, look, seed=0)
    assert set(np.flatnonzero(np.isfinite(ev.crop_z))) == set(first)
    assert set(np.flatnonzero(np.isfinite(ev.sharpness_z))) == {*first, n - 1}
    assert (ev.crop_z[typical] < CROP_Z).all() and ev.crop_z[n - 2] >= CROP_Z
    assert ev.sharpness_z[n - 1] <= BLUR_Z
    assert set(np.flatnonzero(ev.flags)) == {n - 2, n - 1}
    assert ev.summary["vetoed"] == 3 and ev.summary["added_by_blur"] == 1
    assert ev.summary["files_read"] == n  # fewer images than the reference sample: all of them
