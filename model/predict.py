"""Self-describing checkpoints (``model.pt``) and predictions from them.

A checkpoint is a plain dict that ``torch.load(weights_only=True)`` accepts::

    {"format": "sheets-bridge-model/1", "state_dict": ..., "classes": [...],
     "preset": "fast", "config": {...TrainConfig...}, "seed": 0, "image_size": 32,
     "preprocessing": {...}, "best_epoch": ..., "val_accuracy": ...}

Example::

    ckpt = load_checkpoint("runs/r1/model.pt")
    probs = predict_paths(ckpt, ["a.png", "b.png"])       # [2, len(ckpt.classes)]
    labels = [ckpt.classes[i] for i in probs.argmax(1)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.data import load_images
from model.fit import predict_group
from model.nets import CAFFE_MEANS_BGR, build_net
from model.presets import TrainConfig

FORMAT = "sheets-bridge-model/1"


def preprocessing_info(config: TrainConfig) -> dict[str, Any]:
    """Human-readable description of what the net does to a file before its first layer."""
    info: dict[str, Any] = {
        "decode": "PIL convert('L'), bilinear resize of the whole image",
        "size": [config.image_size, config.image_size],
        "input": "uint8 grayscale, 0..255",
    }
    if config.net == "timm":
        info["decode"] = "EXIF-oriented, PIL convert('RGB'), scaled to fit and padded with 128"
        info["input"] = "uint8 RGB [3, H, W], 0..255"
        info["normalize"] = "x / 255, minus mean, divided by std (the backbone's own)"
        info["backbone"] = config.backbone
        info.update(config.net_kwargs)
        return info
    if config.preprocessing == "caffe":
        info["normalize"] = "gray repeated to 3 channels (BGR), minus ImageNet means, no scaling"
        info["means_bgr"] = list(CAFFE_MEANS_BGR)
    else:
        info["normalize"] = "(255 - x) / 255: ink 1, paper 0; 1 channel"
    return info


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    state_dict: dict[str, torch.Tensor],
    config: TrainConfig,
    classes: Sequence[str],
    seed: int,
    **extra: Any,
) -> None:
    """Write a checkpoint that :func:`load_checkpoint` can rebuild without other information."""
    torch.save(
        {
            "format": FORMAT,
            "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
            "classes": list(classes),
            "preset": config.name,
            "config": config.to_dict(),
            "seed": int(seed),
            "image_size": config.image_size,
            "preprocessing": preprocessing_info(config),
            **extra,
        },
        path,
    )


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt net (eval mode, on ``device``) and its description."""

    net: torch.nn.Module
    classes: list[str]
    config: TrainConfig
    device: torch.device
    meta: dict[str, Any] = field(default_factory=dict)


def load_checkpoint(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> Checkpoint:
    """Rebuild the net stored by :func:`save_checkpoint` (on ``device``, default CPU)."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} checkpoint")
    meta = {k: v for k, v in raw.items() if k not in {"state_dict", "config", "classes"}}
    config = TrainConfig.from_dict(raw["config"])
    return checkpoint_from_state(config, raw["classes"], raw["state_dict"], device, meta=meta)


def checkpoint_from_state(
    config: TrainConfig,
    classes: Sequence[str],
    state_dict: dict[str, torch.Tensor],
    device: str | torch.device | None = None,
    *,
    meta: dict[str, Any] | None = None,
) -> Checkpoint:
    """The net of ``config`` with ``state_dict`` loaded (eval mode, on ``device``, default CPU):
    a run's final model before its ``model.pt`` is written."""
    dev = torch.device(device or "cpu")
    net = build_net(config, len(classes), pretrained=False)
    net.load_state_dict(state_dict)
    net.to(dev).eval()
    return Checkpoint(net=net, classes=list(classes), config=config, device=dev, meta=meta or {})


def _as_checkpoint(ckpt: Checkpoint | str | os.PathLike[str]) -> Checkpoint:
    return ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(Path(ckpt))


def predict_images(ckpt: Checkpoint, images: np.ndarray, *, embed: bool = False) -> np.ndarray:
    """Probabilities ``[N, classes]`` (or embeddings ``[N, dim]``) of uint8 images ``[N, H, W]``
    (``[N, 3, H, W]`` for an RGB preset)."""
    if len(images) == 0:
        width = ckpt.net.dim if embed else len(ckpt.classes)
        return np.zeros((0, width), dtype=np.float32)
    tensor = torch.as_tensor(np.asarray(images, dtype=np.uint8), device=ckpt.device)
    (out,) = predict_group(
        ckpt.net,
        tensor,
        [np.arange(len(images))],
        batch_size=ckpt.config.eval_batch_size,
        embed=embed,
    )
    return out.astype(np.float32)


def predict_paths(
    ckpt: Checkpoint | str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """Class probabilities ``[len(paths), len(classes)]`` (float32) for image files."""
    ckpt = _as_checkpoint(ckpt)
    config = ckpt.config
    images = load_images(
        paths, cache_dir=cache_dir, size=config.image_size, channels=config.channels, fit=config.fit
    )
    return predict_images(ckpt, images)


#: the side at which images are decoded for the foreground-cropped view (before the crop)
CROP_SOURCE = 96


def crop_source(
    paths: Sequence[str | os.PathLike[str]],
    channels: int,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> np.ndarray:
    """``paths`` decoded at ``CROP_SOURCE`` pixels, as :func:`cropped_predictions` and
    :func:`model.junk.sharpness` read them (``[N, H, W]``, ``[N, 3, H, W]`` for RGB)."""
    return load_images(paths, cache_dir=cache_dir, size=CROP_SOURCE, channels=channels)


def as_hwc(image: np.ndarray) -> np.ndarray:
    """One decoded image as ``[H, W]`` (gray) or ``[H, W, C]``."""
    return image if image.ndim == 2 else image.transpose(1, 2, 0)


def cropped_predictions(ckpt: Checkpoint, source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings ``[N, dim]`` and probabilities ``[N, classes]`` of :func:`crop_source` images
    cut to their foreground (:func:`model.junk.foreground_crop`) and resized for ``ckpt``."""
    from PIL import Image

    from model.junk import foreground_crop

    size, channels = ckpt.config.image_size, ckpt.config.channels
    crops = []
    for img in source:
        crop = Image.fromarray(foreground_crop(as_hwc(img)))
        arr = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)
        crops.append(arr if channels == 1 else arr.transpose(2, 0, 1))
    shape = (size, size) if channels == 1 else (channels, size, size)
    batch = np.stack(crops) if crops else np.zeros((0, *shape), np.uint8)
    return predict_images(ckpt, batch, embed=True), predict_images(ckpt, batch)


def cropped_view(
    ckpt: Checkpoint | str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's look at each image cut to its foreground (:func:`model.junk.foreground_crop`):
    embeddings ``[N, dim]``, probabilities ``[N, classes]``, and each image's sharpness
    (:func:`model.junk.sharpness`), all from a ``CROP_SOURCE``-pixel decode."""
    from model.junk import sharpness

    ckpt = _as_checkpoint(ckpt)
    source = crop_source(paths, ckpt.config.channels, cache_dir=cache_dir)
    sharp = np.array([sharpness(as_hwc(img)) for img in source], dtype=np.float64)
    emb, probs = cropped_predictions(ckpt, source)
    return emb, probs, sharp
