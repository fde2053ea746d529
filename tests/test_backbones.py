"""Backbone presets (probe-* / finetune-*) end to end on real RGB files.

Everything here uses timm's tiny ``test_resnet`` architecture with RANDOM weights
(``weights="random"``, or a file of random weights written by the test): nothing downloads, and
the features carry colour but no learnt meaning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw

pytest.importorskip("timm")

from model.backbones import BackboneNet, WeightsNotFoundError  # noqa: E402
from model.predict import load_checkpoint, predict_images, predict_paths  # noqa: E402
from model.presets import get_preset  # noqa: E402
from model.train import run_training  # noqa: E402

CLASSES = ["red disc", "Green square", "blue-bar"]
COLOURS = {"red disc": (210, 40, 30), "Green square": (40, 190, 60), "blue-bar": (30, 60, 220)}


def shape_image(label: str, rng: np.random.Generator) -> Image.Image:
    """A coloured shape on a light background, of random size and aspect ratio."""
    w, h = int(rng.integers(40, 120)), int(rng.integers(40, 120))
    im = Image.new("RGB", (w, h), tuple(int(v) for v in rng.integers(200, 256, 3)))
    d = ImageDraw.Draw(im)
    box = (w * 0.2, h * 0.2, w * 0.8, h * 0.8)
    colour = tuple(int(np.clip(c + rng.integers(-20, 20), 0, 255)) for c in COLOURS[label])
    if label == "red disc":
        d.ellipse(box, fill=colour)
    elif label == "Green square":
        d.rectangle(box, fill=colour)
    else:
        d.rectangle((w * 0.4, h * 0.05, w * 0.6, h * 0.95), fill=colour)
    return im


def make_rgb_dataset(root: Path, per_class: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for label in CLASSES:
        for j in range(per_class + 1):
            split = "label_book" if j == 0 else ("val" if j % 3 == 0 else "train")
            path = root / split / label / f"{j}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            shape_image(label, rng).save(path, quality=90)
            rows.append({"id": f"{label}-{j}", "path": str(path), "label": label, "split": split})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def rgb_data(tmp_path_factory) -> pd.DataFrame:
    return make_rgb_dataset(tmp_path_factory.mktemp("rgb"))


def _run(manifest, out: Path, preset: str, **kw) -> dict:
    out.mkdir(parents=True)
    return run_training(
        manifest, CLASSES, out, preset=preset, folds=3, seed=0, device="cpu", progress=False, **kw
    )


def test_presets_read_the_backbone_native_resolution():
    probe = get_preset("probe-resnet18")
    assert (probe.image_size, probe.channels, probe.fit, probe.probe) == (224, 3, "pad", True)
    assert probe.net_kwargs["mean"] == [0.485, 0.456, 0.406]
    tuned = get_preset("finetune-test_resnet@48", epochs=2, weights="random")
    assert (tuned.image_size, tuned.epochs, tuned.weights, tuned.probe) == (48, 2, "random", False)
    with pytest.raises(ValueError, match="not a timm architecture"):
        get_preset("probe-no_such_net")
    with pytest.raises(ValueError, match="probe-<timm architecture>"):
        get_preset("resnet18")


def test_linear_probe_run_writes_the_run_files_and_reuses_cached_features(rgb_data, tmp_path):
    cache = tmp_path / "cache"
    metrics = _run(
        rgb_data, tmp_path / "r1", "probe-test_resnet@64", weights="random", cache_dir=cache
    )
    out = tmp_path / "r1"
    for name in ("predictions.csv", "embeddings.npy", "umap.npy", "scores.csv", "model.pt"):
        assert (out / name).is_file(), name
    pool = rgb_data[rgb_data["split"].isin(["train", "val"])]
    preds = pd.read_csv(out / "predictions.csv")
    assert list(preds["id"]) == list(pool["id"])
    probs = preds[[f"p_{c}" for c in CLASSES]].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    # random conv features still see colour: the out-of-fold heads tell the classes apart
    assert metrics["oof_accuracy"] >= 0.8
    emb = np.load(out / "embeddings.npy")
    assert emb.shape == (len(pool), 96)  # test_resnet's pooled width
    features = list((cache / "features").rglob("*.f32"))
    assert len(features) == len(rgb_data)  # train, val and label book: one file per image

    # the checkpoint reloads without the weights and reproduces features and head
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.config.probe and ckpt.config.channels == 3
    paths = list(pool["path"][:4])
    again = predict_paths(ckpt, paths)
    assert again.shape == (4, 3) and np.allclose(again.sum(1), 1.0, atol=1e-5)
    from model.data import load_images

    imgs = load_images(paths, size=64, channels=3, fit="pad")
    np.testing.assert_allclose(predict_images(ckpt, imgs, embed=True), emb[:4], atol=1e-4)

    # a second run finds every feature cached and gives the same embeddings
    before = {p: p.stat().st_mtime_ns for p in features}
    _run(rgb_data, tmp_path / "r2", "probe-test_resnet@64", weights="random", cache_dir=cache)
    assert {p: p.stat().st_mtime_ns for p in features} == before
    np.testing.assert_allclose(np.load(tmp_path / "r2" / "embeddings.npy"), emb, atol=1e-6)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["preset"] == "probe-test_resnet@64" and "probe_heads" in saved["timings"]


def test_finetune_run_trains_the_backbone_and_reloads(rgb_data, tmp_path):
    metrics = _run(rgb_data, tmp_path / "ft", "finetune-test_resnet@32", weights="random", epochs=1)
    out = tmp_path / "ft"
    assert metrics["epochs"] == 1 and metrics["grouped"] is False
    emb = np.load(out / "embeddings.npy")
    assert emb.shape[1] == 96
    ckpt = load_checkpoint(out / "model.pt")
    probs = predict_paths(ckpt, list(rgb_data["path"][:3]))
    assert probs.shape == (3, 3)


def _random_backbone_state(arch: str = "test_resnet") -> dict[str, torch.Tensor]:
    import timm

    torch.manual_seed(5)
    return timm.create_model(arch, pretrained=False).state_dict()  # with its classifier


def test_weights_load_from_a_local_file(tmp_path):
    from safetensors.torch import save_file

    state = _random_backbone_state()
    st = tmp_path / "model.safetensors"
    save_file(state, str(st))
    pth = tmp_path / "model.pth"
    torch.save({"state_dict": state}, pth)  # a wrapped torch checkpoint, classifier included
    for path in (st, pth):
        config = get_preset("probe-test_resnet@32", weights=str(path))
        net = BackboneNet(config, 3)
        got = net.backbone.state_dict()
        assert all(torch.equal(got[k], state[k]) for k in got)


def test_missing_or_wrong_weights_say_what_to_put_where(tmp_path):
    config = get_preset("probe-test_resnet@32", weights=str(tmp_path / "nope.safetensors"))
    with pytest.raises(WeightsNotFoundError) as err:
        BackboneNet(config, 3)
    text = str(err.value)
    assert "nope.safetensors" in text
    assert (
        "https://huggingface.co/timm/test_resnet.r160_in1k/resolve/main/model.safetensors" in text
    )
    assert 'weights = "weights/test_resnet/model.safetensors"' in text
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file(_random_backbone_state("test_efficientnet"), str(other))
    with pytest.raises(WeightsNotFoundError, match="do not fit timm model 'test_resnet'"):
        BackboneNet(get_preset("probe-test_resnet@32", weights=str(other)), 3)


def test_probe_with_ray_engine_runs_locally_and_says_so(rgb_data, tmp_path):
    pytest.importorskip("ray")
    with pytest.warns(UserWarning, match="linear probe: it runs on the local engine"):
        metrics = _run(
            rgb_data, tmp_path / "ray", "probe-test_resnet@32", weights="random", engine="ray"
        )
    assert metrics["engine"] == "local" and "linear probe" in metrics["engine_note"]
    assert np.load(tmp_path / "ray" / "embeddings.npy").shape[0] == len(
        rgb_data[rgb_data["split"].isin(["train", "val"])]
    )
