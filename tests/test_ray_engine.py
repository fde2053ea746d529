"""The Ray engine against a real local Ray instance: same run folder, same predictions."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from model.train import run_training
from tests.test_model import CLASSES, make_dataset

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray for this module: its workers import torch once and serve every test."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-data")
    return make_dataset(root, per_class=6).drop(columns="truth")


def test_ray_run_writes_the_same_run_as_a_local_one(frame, tmp_path, ray_instance):
    kw = {"folds": 2, "epochs": 1, "seed": 3, "progress": False, "cache_dir": tmp_path / "cache"}
    local, remote = tmp_path / "local", tmp_path / "ray"
    local.mkdir()
    remote.mkdir()
    run_training(frame, CLASSES, local, **kw)
    calls: list[str] = []
    metrics = run_training(
        frame, CLASSES, remote, engine="ray", on_progress=lambda s, f: calls.append(s), **kw
    )
    assert metrics["engine"] == "ray" and metrics["device"] == "cpu"
    assert sorted(p.name for p in remote.iterdir()) == sorted(p.name for p in local.iterdir())
    a = pd.read_csv(local / "predictions.csv")
    b = pd.read_csv(remote / "predictions.csv")
    assert a[["id", "split", "label", "fold"]].equals(b[["id", "split", "label", "fold"]])
    probs = [f"p_{c}" for c in CLASSES]
    assert np.allclose(a[probs], b[probs], atol=1e-5)
    assert json.loads((local / "folds.json").read_text()) == json.loads(
        (remote / "folds.json").read_text()
    )
    emb_local, emb_ray = np.load(local / "embeddings.npy"), np.load(remote / "embeddings.npy")
    assert np.allclose(emb_local, emb_ray, atol=1e-5)
    # junk?'s second look runs on the final model the Ray task returned
    assert metrics["junk_evidence"]["second_look"] == "cropped view and blur"
    a, b = pd.read_csv(local / "scores.csv"), pd.read_csv(remote / "scores.csv")
    assert a["junk"].equals(b["junk"])
    for column in ("crop_distance", "sharpness_z"):
        assert np.allclose(a[column], b[column], atol=1e-4, equal_nan=True)
    # each model reports when its task is done
    done = {s.split(" done")[0] for s in calls if " done" in s}
    assert done == {"train: final model", "train: fold 1/2", "train: fold 2/2"}


def test_asking_for_ray_without_it_says_how_to_install_it(frame, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what Python does when ray is not installed
    with pytest.raises(RuntimeError, match=r"pip install 'sheets-bridge\[ray\]'"):
        run_training(frame, CLASSES, tmp_path, folds=2, epochs=1, engine="ray", progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing was started


def test_unknown_engine_is_refused(frame, tmp_path):
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        run_training(frame, CLASSES, tmp_path, folds=2, engine="spark", progress=False)


def _demo_workspace(tmp_path):
    from sheets_bridge import loop
    from sheets_bridge.core import config as config_mod
    from tests.conftest import make_image_folder

    folder = make_image_folder(tmp_path / "data", {"train": 6, "val": 3, "label_book": 1})
    ws = loop.init(folder, tmp_path / "ws")
    config_mod.save(ws.root, ws.config.replace(folds=2, epochs=1))
    return ws.root


def test_cli_trains_with_the_ray_engine(tmp_path, ray_instance):
    from click.testing import CliRunner

    from sheets_bridge.cli import main
    from sheets_bridge.store.workspace import Workspace

    root = _demo_workspace(tmp_path)
    result = CliRunner().invoke(
        main, ["train", "-w", str(root), "--engine", "ray", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    (run,) = Workspace(root).runs()
    assert run.metrics()["engine"] == "ray"
    assert (run.path / "predictions.csv").is_file() and not (run.path / "partial").exists()


def test_cli_without_ray_says_how_to_install_it(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from sheets_bridge.cli import main
    from sheets_bridge.core import config as config_mod

    root = _demo_workspace(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)
    result = CliRunner().invoke(main, ["train", "-w", str(root), "--engine", "ray"])
    assert result.exit_code == 1
    assert "pip install 'sheets-bridge[ray]'" in result.output and "Traceback" not in result.output
    # the setting does the same as the option
    config_mod.save(root, config_mod.load(root, env={}).replace(engine="ray"))
    result = CliRunner().invoke(main, ["train", "-w", str(root)])
    assert result.exit_code == 1 and "sheets-bridge[ray]" in result.output


def test_engine_setting_is_checked(tmp_path):
    from sheets_bridge.core.config import Config
    from sheets_bridge.core.errors import ConfigError

    with pytest.raises(ConfigError, match="engine must be 'local' or 'ray'"):
        Config(engine="spark").validate()
    assert Config(engine="ray", ray_address="ray://head:10001").validate().engine == "ray"
