"""Pretrained ``timm`` backbones as nets of this package (the ``probe-*`` / ``finetune-*`` presets).

:class:`BackboneNet` follows the contract of :mod:`model.nets`: raw 0..255 pixels in (RGB
``[B, 1, 3, H, W]``, or gray ``[B, 1, H, W]``, repeated to three channels), logits ``[B, 1,
classes]`` out, ``features`` = the backbone's pooled features ``[B, 1, dim]``. It holds one copy
(``groups=1``): a timm architecture has no grouped form, so its fold models train one after the
other.

Weights, in this order: ``config.weights == "random"``: none (tests; the features mean nothing);
a file path: that file (``.safetensors``, or a torch ``.pth``/``.bin`` state dict); empty: timm's
own loader, which reads the Hugging Face cache and downloads only where the machine is online.
When none is found the error names the exact file to fetch and where to say it lies.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from model.nets import GroupedLinear
from model.presets import TrainConfig, WeightsNotFoundError

__all__ = ["RANDOM", "BackboneNet", "WeightsNotFoundError", "load_pretrained", "weights_identity"]

RANDOM = "random"


def _download_hint(arch: str) -> tuple[str, str]:
    """(URL of the weights file timm would fetch, the file name to keep)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch)
    hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if hub:
        return f"https://huggingface.co/{hub}/resolve/main/model.safetensors", "model.safetensors"
    url = getattr(cfg, "url", None) if cfg is not None else None
    return (url or f"(no published weights for {arch})"), Path(url or "weights.pth").name


def _missing_message(arch: str, why: str) -> str:
    url, name = _download_hint(arch)
    return (
        f"pretrained weights for timm model {arch!r} not found ({why}). On a machine that is "
        f"online, download {url} and copy it here, e.g. to weights/{arch}/{name}, then set "
        f'weights = "weights/{arch}/{name}" in sheets-bridge.toml (a path relative to the '
        "workspace or absolute); or run once where the machine is online so that timm fills its "
        'cache; or weights = "random" to try the pipeline without pretrained features'
    )


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "module"):  # common checkpoint wrappers
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsNotFoundError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_pretrained(backbone: nn.Module, config: TrainConfig) -> None:
    """Put ``config.weights`` (or timm's cached weights) into ``backbone``, headless."""
    arch, weights = config.backbone, config.weights
    if weights == RANDOM:
        return
    if weights:
        path = Path(os.path.expanduser(weights))
        if not path.is_file():
            raise WeightsNotFoundError(_missing_message(arch, f"no file at {path}"))
        state = _read_state(path)
    else:
        import timm

        try:  # timm's own loader: its cache, or a download where online
            state = timm.create_model(arch, pretrained=True, num_classes=0).state_dict()
        except Exception as exc:  # hub, network and cache errors come in many types
            raise WeightsNotFoundError(
                _missing_message(arch, f"{type(exc).__name__}: {str(exc)[:200]}")
            ) from None
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = sorted(set(own) - set(usable))
    if missing:
        raise WeightsNotFoundError(
            f"{weights or 'the cached weights'} do not fit timm model {arch!r}: {len(missing)} of "
            f"its {len(own)} tensors are missing or differ in shape (e.g. {missing[0]}); use the "
            f"weights file made for {arch}"
        )
    backbone.load_state_dict(usable)


def weights_identity(config: TrainConfig, seed: int) -> str:
    """What makes one backbone's features differ from another's (for the feature cache)."""
    if config.weights == RANDOM:
        return f"random-seed{seed}"
    if config.weights:
        digest = hashlib.sha256()
        with open(os.path.expanduser(config.weights), "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return "file-" + digest.hexdigest()
    return "timm-cache"


class BackboneNet(nn.Module):
    """A timm backbone (classifier removed) + a linear head, fed raw 0..255 pixels."""

    def __init__(
        self, config: TrainConfig, n_classes: int, groups: int = 1, *, pretrained: bool = True
    ) -> None:
        super().__init__()
        if groups != 1:
            raise ValueError("a timm backbone trains one copy at a time (groups=1)")
        try:
            import timm
        except ImportError:
            raise ValueError(
                f"preset {config.name!r} needs timm: pip install 'sheets-bridge[backbones]'"
            ) from None
        self.groups = 1
        self.backbone = timm.create_model(config.backbone, pretrained=False, num_classes=0)
        if pretrained:
            load_pretrained(self.backbone, config)
        self.dim = int(self.backbone.num_features)
        mean = torch.tensor(config.net_kwargs["mean"], dtype=torch.float32) * 255.0
        std = torch.tensor(config.net_kwargs["std"], dtype=torch.float32) * 255.0
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.fc = GroupedLinear(self.dim, n_classes, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:  # [B, 1, 3, H, W]
            x = x[:, 0]
        elif x.shape[1] == 1:  # gray [B, 1, H, W]
            x = x.expand(-1, 3, -1, -1)
        x = (x.float() - self.mean) / self.std
        return self.backbone(x).view(x.shape[0], 1, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))
