"""The streaming data path, resumable runs and progress messages, on small real data."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from model.data import load_images
from model.fit import Job, batch_plan, fit_group
from model.presets import get_preset
from model.store import ImageStore, build_store
from model.tasks import EmbedTask
from model.train import run_training
from tests.test_model import CLASSES, make_dataset
from tests.test_model_fit import bars


class CountingStore(ImageStore):
    """A real memory-mapped store that remembers the most rows any one read asked for."""

    def __init__(self, store: ImageStore) -> None:
        super().__init__(store.array, store.path)
        self.largest = 0
        self.reads = 0

    def rows(self, idx: np.ndarray) -> np.ndarray:
        self.largest = max(self.largest, int(np.asarray(idx).size))
        self.reads += 1
        return super().rows(idx)


def store_of(x: np.ndarray, tmp_path) -> ImageStore:
    path = tmp_path / "images.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=x.shape)
    mm[:] = x
    mm.flush()
    return ImageStore.open(path, len(x), x.shape[1])


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    frame = make_dataset(root / "img", per_class=10)
    return root, frame


def test_store_is_written_once_keyed_by_content_and_size(images, tmp_path):
    root, frame = images
    paths = frame["path"].tolist()
    spec = build_store(paths, None, cache_dir=tmp_path / "cache", size=32)
    assert spec.path.startswith(str(tmp_path / "cache" / "stack32"))
    store = ImageStore.open(spec.path, spec.n, spec.size)
    assert isinstance(store.array, np.memmap)
    assert np.array_equal(store.array, load_images(paths, size=32))
    stamp = (tmp_path / "cache" / "stack32" / spec.path.rsplit("/", 1)[1]).stat().st_mtime_ns
    again = build_store(paths, list(spec.shas), cache_dir=tmp_path / "cache", size=32)
    assert again.path == spec.path
    assert (
        tmp_path / "cache" / "stack32" / spec.path.rsplit("/", 1)[1]
    ).stat().st_mtime_ns == stamp
    assert build_store(paths[::-1], None, cache_dir=tmp_path / "cache", size=32).path != spec.path
    small = build_store(paths, None, cache_dir=tmp_path / "cache", size=16)
    assert "stack16" in small.path and ImageStore.open(small.path, small.n, 16).shape[1:] == (
        16,
        16,
    )
    # a worker whose machine lacks the file rebuilds it from the images
    (tmp_path / "cache" / "stack16" / small.path.rsplit("/", 1)[1]).unlink()
    assert np.array_equal(small.open().array, load_images(paths, size=16))


def test_store_holds_rgb_images_keyed_by_channels_and_fit(images, tmp_path):
    _, frame = images
    paths = frame["path"].tolist()
    cache = tmp_path / "cache"
    gray = build_store(paths, None, cache_dir=cache, size=16)
    rgb = build_store(paths, None, cache_dir=cache, size=16, channels=3)
    padded = build_store(paths, None, cache_dir=cache, size=16, channels=3, fit="pad")
    assert len({gray.path, rgb.path, padded.path}) == 3
    for spec, fit in ((rgb, "stretch"), (padded, "pad")):
        store = ImageStore.open(spec.path, spec.n, spec.size, spec.channels)
        assert store.shape == (len(paths), 3, 16, 16)
        assert np.array_equal(store.array, load_images(paths, size=16, channels=3, fit=fit))
        assert store.rows(np.array([[2, 0]])).shape == (1, 2, 3, 16, 16)
    # a worker without the file rebuilds the RGB store, not a gray one
    (cache / "stack16" / padded.path.rsplit("/", 1)[1]).unlink()
    assert padded.open().shape == (len(paths), 3, 16, 16)


def test_rows_keep_the_callers_order_for_any_index_shape(tmp_path):
    x = np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4)
    store = store_of(x, tmp_path)
    idx = np.array([[7, 2, 2], [0, 9, 3]])
    assert np.array_equal(store.rows(idx), x[idx])


def test_training_and_prediction_never_read_more_than_a_batch(tmp_path):
    x, y = bars(120, seed=3)
    store = CountingStore(store_of(x.numpy(), tmp_path))
    config = dataclasses.replace(get_preset("fast"), eval_batch_size=16, batch_size=8)
    jobs = [
        Job("a", train_idx=np.arange(0, 90), holdout_idx=np.arange(90, 120), key=0),
        Job("b", train_idx=np.arange(30, 120), select_idx=np.arange(0, 30), keep_state=True, key=1),
    ]
    results = fit_group(config, store, y.numpy(), jobs, 2, epochs=1)
    batch, steps = batch_plan(config, jobs)
    assert batch == 8
    # every read is one training batch of both copies, or one evaluation batch of both
    assert 0 < store.largest <= max(batch, config.eval_batch_size) * len(jobs) < len(x)
    assert store.reads >= steps
    assert results[0].holdout_probs[1].shape == (30, 2)

    store.largest = 0
    out = EmbedTask(
        config, 2, results[1].state, 100, {"label_book": np.arange(100, 120)}, y.numpy()
    ).run(store, "cpu")
    assert out.pool.shape[0] == 100 and out.label_book.shape[0] == 20
    assert 0 < store.largest <= config.eval_batch_size


def test_streamed_training_matches_training_from_a_tensor(tmp_path):
    x, y = bars(64, seed=4)
    store = store_of(x.numpy(), tmp_path)
    config = get_preset("fast")

    def jobs():
        return [Job("f", train_idx=np.arange(48), holdout_idx=np.arange(48, 64), key=2)]

    (from_tensor,) = fit_group(config, x, y, jobs(), 2, epochs=2, seed=5)
    (streamed,) = fit_group(config, store, y.numpy(), jobs(), 2, epochs=2, seed=5)
    assert np.allclose(from_tensor.losses, streamed.losses, atol=1e-6)
    assert np.allclose(from_tensor.holdout_probs[2], streamed.holdout_probs[2], atol=1e-6)
    assert torch.equal(
        torch.as_tensor(from_tensor.trained_on), torch.as_tensor(streamed.trained_on)
    )


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_with_the_missing_folds(images, tmp_path):
    _, frame = images
    frame = frame.drop(columns="truth")
    kw = {"folds": 3, "epochs": 2, "seed": 0, "progress": False, "cache_dir": tmp_path / "cache"}
    whole = tmp_path / "whole"
    whole.mkdir()
    calls: list[str] = []
    run_training(frame, CLASSES, whole, on_progress=lambda s, f: calls.append(s), **kw)
    assert not (whole / "partial").exists()  # a finished run looks like one never interrupted

    # progress names the model, the epoch, the speed and the time left
    pattern = r"train: fold 2/3, epoch 2/2, \d+ images/s, about \d+ (s|min) left"
    assert any(re.fullmatch(pattern, s) for s in calls), calls
    assert any(s.startswith("train: final model done") for s in calls)

    def stop_after_first_fold(step: str, fraction: float) -> None:
        if step.startswith("train: fold 1/3 done"):
            raise Interrupt

    out = tmp_path / "resumed"
    out.mkdir()
    with pytest.raises(Interrupt):
        run_training(frame, CLASSES, out, on_progress=stop_after_first_fold, **kw)
    saved = sorted(p.name for p in (out / "partial").glob("*.pt"))
    assert saved == ["final.pt", "fold0.pt"]

    rerun: list[str] = []
    run_training(frame, CLASSES, out, on_progress=lambda s, f: rerun.append(s), **kw)
    trained = {m.group(1) for s in rerun if (m := re.match(r"train: (.+?)(,| done)", s))}
    assert trained == {"fold 2/3", "fold 3/3"}
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in whole.iterdir())

    a = pd.read_csv(whole / "predictions.csv")
    b = pd.read_csv(out / "predictions.csv")
    probs = [f"p_{c}" for c in CLASSES]
    assert np.allclose(a[probs], b[probs], atol=1e-5)
    assert json.loads((out / "folds.json").read_text()) == json.loads(
        (whole / "folds.json").read_text()
    )
    assert np.allclose(
        np.load(whole / "embeddings.npy"), np.load(out / "embeddings.npy"), atol=1e-5
    )


def test_saved_models_of_another_recipe_are_not_reused(images, tmp_path):
    _, frame = images
    frame = frame.drop(columns="truth")
    kw = {"folds": 2, "seed": 0, "progress": False, "cache_dir": tmp_path / "cache"}

    def stop(step: str, fraction: float) -> None:
        if step.startswith("train: final model done"):
            raise Interrupt

    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(Interrupt):
        run_training(frame, CLASSES, out, epochs=1, on_progress=stop, **kw)
    assert (out / "partial" / "final.pt").is_file()
    calls: list[str] = []
    metrics = run_training(
        frame, CLASSES, out, epochs=2, on_progress=lambda s, f: calls.append(s), **kw
    )
    assert any(s.startswith("train: final model, epoch 2/2") for s in calls)
    assert len(metrics["history"]["train_loss"]) == 2
