"""Training recipes ("presets"): everything that decides a run's model, besides data and seed.

Two presets exist:

``fast`` (default)
    A small 4-conv CNN on 32x32 grayscale (a stride-2 5x5 stem, then 3x3 convs at 16, 8 and 4 px,
    width 24), AdamW with a one-cycle schedule, batch 128, 12 epochs, light random affine
    augmentation and label smoothing. Trade-off: on 2 CPU cores it trains the 4 fold models plus
    the final model on the 2,880 DCAI train+val images in about 50 s (the whole run, UMAP and
    scores included, in about 57 s), where ``dcai`` needs about 40 minutes there (or about 45 s of
    training on one H100). On the DCAI data it reaches 0.84 validation accuracy against 0.76 for
    ``dcai``, but it is *not* the competition's model: use ``dcai`` when results must be
    comparable with the competition's leaderboard. (benchmarks/bench_train.py)

``dcai``
    The competition's fixed model ported to PyTorch: Keras ResNet50 (``weights=None``) cut after
    stage 2, global average pooling, a dense layer; caffe-style preprocessing of 32x32x3 input;
    Adam lr 1e-4 (Keras' epsilon 1e-7), batch 8, 100 epochs, keep the epoch with the best
    validation accuracy; no augmentation.

Backbone presets, for any ``timm`` architecture ``<arch>`` (``pip install 'sheets-bridge[backbones]'``):

``probe-<arch>``
    Linear probe: the pretrained backbone stays frozen; its pooled features are computed once per
    image (cached on disk by the decoded image's hash) and a multinomial logistic regression is fit
    on them, K-fold out-of-fold like every run. Seconds on CPU once the features are cached
    (see :mod:`model.probe`).
``finetune-<arch>``
    The whole backbone plus a new linear head trained with AdamW and a one-cycle schedule.

Both read RGB at the backbone's native resolution (``resnet18``: 224 px), each image scaled to fit
and padded to a square (``fit="pad"``), normalised with the backbone's own mean and std; the
embeddings are the backbone's pooled features. ``<arch>@<size>`` sets another input size (e.g.
``probe-resnet18@128``). Weights: ``weights = "path/to/model.safetensors"`` (or ``.pth``) in the
settings; left empty, timm's cache (and timm's download where the machine is online);
``weights = "random"`` starts from random weights (tests only: the features mean nothing).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal


class WeightsNotFoundError(ValueError):
    """A backbone preset's pretrained weights are neither at the given path nor cached."""


@dataclass(frozen=True)
class TrainConfig:
    """One training recipe. Stored in full inside every checkpoint (``model.pt``)."""

    name: str
    net: Literal["fastcnn", "resnet50_stage2", "timm"]
    net_kwargs: dict[str, Any] = field(default_factory=dict)
    #: ``unit``: x/255 standardised with fixed constants, 1 channel; ``caffe``: Keras ResNet50's
    #: preprocessing (RGB->BGR, subtract ImageNet means, no scaling), grayscale repeated to 3 channels.
    preprocessing: Literal["unit", "caffe"] = "unit"
    image_size: int = 32
    epochs: int = 12
    batch_size: int = 128
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.0
    adam_eps: float = 1e-8
    schedule: Literal["onecycle", "constant"] = "onecycle"
    label_smoothing: float = 0.0
    augment: bool = False
    #: Which epoch of a fold model scores its held-out images: ``last``, or ``best``: the epoch that
    #: the final model (trained on train, judged on val) found best, so no fold model ever picks an
    #: epoch by looking at its own held-out images.
    fold_epoch: Literal["last", "best"] = "last"
    eval_batch_size: int = 1024
    #: bf16 autocast on CUDA (never on CPU)
    amp: bool = True
    #: input channels: 1 (gray) or 3 (RGB; gray images are repeated)
    channels: int = 1
    #: how an image becomes a square: ``stretch`` or ``pad`` (see :data:`model.data.FITS`)
    fit: str = "stretch"
    #: ``timm`` nets: the architecture, the weights (path, "" = timm's cache, "random"), and
    #: whether only a linear head is fit on frozen features
    backbone: str = ""
    weights: str = ""
    probe: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain-type dict (JSON and ``torch.load(weights_only=True)`` safe)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config stored by :meth:`to_dict`."""
        return cls(**data)


PRESETS: dict[str, TrainConfig] = {
    "fast": TrainConfig(
        name="fast",
        net="fastcnn",
        net_kwargs={"width": 24},
        preprocessing="unit",
        epochs=12,
        batch_size=128,
        optimizer="adamw",
        lr=3e-3,  # one-cycle peak; higher diverged in short runs, lower learned slower
        weight_decay=5e-4,
        schedule="onecycle",
        label_smoothing=0.1,  # softer targets: fewer over-confident mistakes on noisy labels
        augment=True,  # small rotations/shifts/scales: hand-writing varies exactly like that
        fold_epoch="last",  # one-cycle ends at its lowest lr: the last epoch is the one to use
        eval_batch_size=1024,
    ),
    "dcai": TrainConfig(
        name="dcai",
        net="resnet50_stage2",
        net_kwargs={},
        preprocessing="caffe",
        epochs=100,
        batch_size=8,
        optimizer="adam",
        lr=1e-4,
        weight_decay=0.0,
        adam_eps=1e-7,  # Keras' Adam default
        schedule="constant",
        label_smoothing=0.0,
        augment=False,
        fold_epoch="best",
        eval_batch_size=1024,
        # fp32 like Keras: the grouped batch-8 step is launch-bound, bf16 measured no faster
        # (1.66 vs 1.65 ms per step of 5 models on an H200)
        amp=False,
    ),
}


BACKBONE_PREFIXES = ("probe-", "finetune-")


def backbone_preset(name: str) -> TrainConfig:
    """The config of a ``probe-<arch>[@size]`` or ``finetune-<arch>[@size]`` preset.

    >>> backbone_preset("probe-resnet18").image_size  # doctest: +SKIP
    224
    """
    kind, _, rest = name.partition("-")
    arch, _, size_text = rest.partition("@")
    try:
        import timm
        from timm.models import get_pretrained_cfg
    except ImportError:
        raise ValueError(
            f"preset {name!r} needs timm: pip install 'sheets-bridge[backbones]'"
        ) from None
    if not arch or not timm.is_model(arch):
        raise ValueError(
            f"preset {name!r}: {arch!r} is not a timm architecture (see timm.list_models())"
        )
    cfg = get_pretrained_cfg(arch)
    mean = list(cfg.mean) if cfg is not None else [0.485, 0.456, 0.406]
    std = list(cfg.std) if cfg is not None else [0.229, 0.224, 0.225]
    native = int(cfg.input_size[-1]) if cfg is not None else 224
    if size_text and (not size_text.isdigit() or not 16 <= int(size_text) <= 1024):
        raise ValueError(f"preset {name!r}: the size after @ must be 16..1024 pixels")
    common: dict[str, Any] = {
        "name": name,
        "net": "timm",
        "net_kwargs": {"mean": mean, "std": std},
        "image_size": int(size_text) if size_text else native,
        "channels": 3,
        "fit": "pad",
        "backbone": arch,
        "augment": False,  # the grid-sample augmentation works on one gray channel
        "fold_epoch": "last",
        "eval_batch_size": 64,  # native-resolution activations: keep CPU memory modest
    }
    if kind == "probe":
        # one "epoch": the logistic regression fits to convergence on cached features
        return TrainConfig(**common, probe=True, epochs=1, batch_size=64, schedule="constant")
    return TrainConfig(
        **common,
        epochs=6,
        batch_size=32,
        optimizer="adamw",
        lr=3e-4,  # pretrained features: a small peak lr keeps them
        weight_decay=0.05,
        schedule="onecycle",
        label_smoothing=0.1,
    )


def get_preset(name: str, *, epochs: int | None = None, weights: str | None = None) -> TrainConfig:
    """Return the preset called ``name``, with ``epochs`` (and a backbone's ``weights``) set.

    >>> get_preset("dcai", epochs=3).epochs
    3
    """
    if name.startswith(BACKBONE_PREFIXES):
        config = backbone_preset(name)
        if weights:
            config = replace(config, weights=str(weights))
    elif name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}, "
            "probe-<timm architecture> or finetune-<timm architecture>"
        )
    else:
        config = PRESETS[name]
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        config = replace(config, epochs=int(epochs))
    return config
