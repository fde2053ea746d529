"""The networks. Each can hold ``groups`` independent copies of itself as one grouped network.

Every net takes raw grayscale pixels as a float tensor ``[batch, groups, H, W]`` in 0..255 (so the
preprocessing travels inside the checkpoint) and returns logits ``[batch, groups, n_classes]``;
``features`` returns the penultimate layer ``[batch, groups, dim]``. Copy ``g`` sees only channel
``g`` of the input and owns rows ``g`` of every parameter (grouped convolutions, per-channel
BatchNorm, a grouped linear head), so ``groups`` copies train exactly like separate models while a
GPU runs them with one kernel launch per layer. :func:`split_state` / :func:`stack_states` convert
between one grouped state dict and per-copy state dicts (every tensor's first axis is grouped).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from model.presets import TrainConfig

#: Keras ``imagenet_utils.preprocess_input(mode="caffe")`` channel means, in BGR order.
CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)


class Preprocess(nn.Module):
    """Raw 0..255 grayscale ``[B, G, H, W]`` -> network input ``[B, G * channels, H, W]``."""

    def __init__(self, mode: str, groups: int) -> None:
        super().__init__()
        self.mode = mode
        self.groups = groups
        if mode == "caffe":
            # Grayscale repeated to RGB is its own BGR flip, so only the means remain.
            means = torch.tensor(CAFFE_MEANS_BGR).repeat(groups).view(1, -1, 1, 1)
            self.register_buffer("means", means, persistent=False)
        elif mode != "unit":
            raise ValueError(f"unknown preprocessing {mode!r}")

    @property
    def channels(self) -> int:
        return 3 if self.mode == "caffe" else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "caffe":
            return x.repeat_interleave(3, dim=1) - self.means
        # Ink -> 1, white paper -> 0, so zero padding looks like paper.
        return (255.0 - x) * (1.0 / 255.0)


class GroupedLinear(nn.Module):
    """``groups`` independent linear layers; for one group its state dict matches ``nn.Linear``."""

    def __init__(self, in_features: int, out_features: int, groups: int = 1) -> None:
        super().__init__()
        self.groups, self.out_features = groups, out_features
        self.weight = nn.Parameter(torch.empty(groups * out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(groups * out_features))
        nn.init.xavier_uniform_(self.weight)  # Keras Dense default (glorot_uniform, zero bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, G, in] -> [B, G, out]
        if self.groups == 1:
            return F.linear(x, self.weight, self.bias)
        w = self.weight.view(self.groups, self.out_features, -1)
        return torch.einsum("bgi,goi->bgo", x, w) + self.bias.view(self.groups, -1)


def _bn(channels: int, groups: int, keras: bool) -> nn.BatchNorm2d:
    if keras:  # Keras BatchNormalization(momentum=0.99, epsilon=1.001e-5) as ResNet50 sets it
        return nn.BatchNorm2d(groups * channels, eps=1.001e-5, momentum=0.01)
    return nn.BatchNorm2d(groups * channels)


def _conv(cin: int, cout: int, k: int, groups: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(groups * cin, groups * cout, k, stride, k // 2, groups=groups, bias=False)


class FastCNN(nn.Module):
    """Small CNN for the ``fast`` preset: most of its width sits at 16x16, where strokes live.

    ``channels``: input channels of each copy (1 gray; 3 RGB, as the junk model takes them).
    """

    def __init__(self, n_classes: int, width: int = 24, groups: int = 1, channels: int = 1) -> None:
        super().__init__()
        w, g = width, groups
        self.groups, self.dim = g, 4 * w
        self.pre = Preprocess("unit", g)

        def cbr(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
            return [_conv(cin, cout, k, g, stride), _bn(cout, g, False), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            # 32 -> 16 px at once: the full-size map is mostly paper
            *cbr(channels, w, 5, stride=2),
            *cbr(w, 2 * w, 3),
            nn.MaxPool2d(2),
            *cbr(2 * w, 4 * w, 3),
            nn.MaxPool2d(2),
            *cbr(4 * w, 4 * w, 3),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = GroupedLinear(self.dim, n_classes, g)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.pre(x)).view(x.shape[0], self.groups, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


class Bottleneck(nn.Module):
    """torchvision's ``Bottleneck`` (same parameter names), grouped, with Keras' BatchNorm."""

    def __init__(self, cin: int, mid: int, groups: int, downsample: bool) -> None:
        super().__init__()
        g = groups
        self.conv1, self.bn1 = _conv(cin, mid, 1, g), _bn(mid, g, True)
        self.conv2, self.bn2 = _conv(mid, mid, 3, g), _bn(mid, g, True)
        self.conv3, self.bn3 = _conv(mid, 4 * mid, 1, g), _bn(4 * mid, g, True)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(_conv(cin, 4 * mid, 1, g), _bn(4 * mid, g, True)) if downsample else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNetStage2(nn.Module):
    """Keras ResNet50 up to ``conv2_block3_out`` + global average pooling + dense (``dcai``).

    Same layers and parameter names as torchvision's ``resnet50`` ``conv1, bn1, relu, maxpool,
    layer1`` (a one-group state dict loads into those modules), with these choices to match Keras:

    - BatchNorm momentum 0.99 in Keras' convention (torch ``momentum=0.01``), epsilon 1.001e-5.
      Keras updates the moving variance with the biased batch variance, torch with the unbiased
      one: a factor n/(n-1) with n = batch x 8 x 8 >= 512 values, kept as is.
    - Keras' ``ZeroPadding2D(3)`` + 7x7/2 conv and ``ZeroPadding2D(1)`` + 3x3/2 max-pool are torch's
      ``padding=3`` and ``padding=1`` (pooling follows a ReLU, so zero and -inf padding agree);
      32x32 input gives 16x16 after conv1 and 8x8 after the pool in both.
    - Keras convs carry a bias; here they have none because each is followed by BatchNorm, which
      subtracts the batch mean and so cancels a bias exactly.
    - Conv and dense weights use Keras' glorot-uniform initialisation (torchvision uses He).
    """

    def __init__(self, n_classes: int, groups: int = 1) -> None:
        super().__init__()
        g = groups
        self.groups, self.dim = g, 256
        self.pre = Preprocess("caffe", g)
        self.conv1 = nn.Conv2d(3 * g, 64 * g, 7, 2, 3, groups=g, bias=False)
        self.bn1 = _bn(64, g, True)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(
            Bottleneck(64, 64, g, downsample=True),
            Bottleneck(256, 64, g, downsample=False),
            Bottleneck(256, 64, g, downsample=False),
        )
        self.fc = GroupedLinear(self.dim, n_classes, g)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.pre(x)))))
        x = self.layer1(x)
        return x.mean(dim=(2, 3)).view(x.shape[0], self.groups, self.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def build_net(
    config: TrainConfig, n_classes: int, groups: int = 1, *, pretrained: bool = True
) -> nn.Module:
    """The network a config names, holding ``groups`` independent copies.

    ``pretrained=False`` skips loading a backbone's pretrained weights: for a net whose whole
    state is loaded next (a checkpoint), so that reloading never needs the weights file.
    """
    if config.net == "timm":
        from model.backbones import BackboneNet  # timm is optional: imported only here

        return BackboneNet(config, n_classes, groups, pretrained=pretrained)
    if config.net == "fastcnn":
        return FastCNN(n_classes, groups=groups, **config.net_kwargs)
    if config.net == "resnet50_stage2":
        return ResNetStage2(n_classes, groups=groups, **config.net_kwargs)
    raise ValueError(f"unknown net {config.net!r}")


def state_of(state: dict[str, torch.Tensor], groups: int, g: int) -> dict[str, torch.Tensor]:
    """Copy ``g``'s one-copy state dict out of a grouped one (cloned, contiguous)."""
    return {
        key: (t.chunk(groups, dim=0)[g] if t.dim() else t).detach().clone().contiguous()
        for key, t in state.items()
    }


def split_state(state: dict[str, torch.Tensor], groups: int) -> list[dict[str, torch.Tensor]]:
    """Cut a grouped state dict into ``groups`` one-copy state dicts."""
    return [state_of(state, groups, g) for g in range(groups)]


def stack_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`split_state`: one grouped state dict from per-copy ones."""
    first = states[0]
    return {
        key: torch.cat([s[key] for s in states]) if first[key].dim() else first[key].clone()
        for key in first
    }
