"""The training loop, the nets and the image cache, on small real tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from model.data import load_images
from model.fit import Job, fit_group
from model.nets import CAFFE_MEANS_BGR, FastCNN, ResNetStage2, split_state, stack_states
from model.presets import get_preset


def bars(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of one dark bar, horizontal (class 0) or vertical (class 1), at random places."""
    rng = np.random.default_rng(seed)
    x = np.full((n, 32, 32), 255, dtype=np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        a, b = rng.integers(4, 24, size=2)
        if y[i]:
            x[i, a : a + 8, b : b + 3] = 0
        else:
            x[i, a : a + 3, b : b + 8] = 0
    return torch.from_numpy(x), torch.from_numpy(y)


def test_training_reduces_the_loss_and_learns_the_bars():
    images, labels = bars(96)
    job = Job("one", train_idx=np.arange(64), select_idx=np.arange(64, 96), keep_state=True)
    (res,) = fit_group(get_preset("fast"), images, labels, [job], 2, epochs=6)
    assert res.losses[-1] < 0.5 * res.losses[0]
    assert max(res.select_accuracy) >= 0.9
    assert res.best_epoch == 1 + int(np.argmax(res.select_accuracy))
    assert res.state is not None and set(res.state) == set(FastCNN(2).state_dict())


def test_fold_bookkeeping_records_exactly_the_trained_indices():
    images, labels = bars(40)
    train, held = np.arange(0, 40, 2), np.arange(1, 40, 2)
    job = Job("fold", train_idx=train, holdout_idx=held, snapshot_epochs=frozenset({2}))
    (res,) = fit_group(get_preset("fast"), images, labels, [job], 2, epochs=2)
    assert res.trained_on.tolist() == train.tolist()
    assert set(res.holdout_probs) == {2}
    assert res.holdout_probs[2].shape == (len(held), 2)


@pytest.mark.parametrize("preset", ["dcai", "fast"])
def test_grouped_network_trains_each_copy_like_a_separate_model(preset):
    config = get_preset(preset)
    if preset == "fast":  # augmentation draws differ by layout; the rest must not
        config = type(config)(**{**config.to_dict(), "augment": False})
    images, labels = bars(48, seed=1)
    jobs = [
        Job("a", train_idx=np.arange(0, 40), holdout_idx=np.arange(40, 48), key=0),
        Job("b", train_idx=np.arange(8, 48), holdout_idx=np.arange(0, 8), key=1),
    ]
    grouped = fit_group(config, images, labels, jobs, 2, epochs=2)
    for job, together in zip(jobs, grouped, strict=True):
        (alone,) = fit_group(config, images, labels, [job], 2, epochs=2)
        # equal up to float noise, which training amplifies step by step (CPUs differ in it)
        assert together.losses == pytest.approx(alone.losses, rel=1e-3, abs=1e-5)
        assert np.allclose(together.holdout_probs[2], alone.holdout_probs[2], atol=1e-3)
        assert together.trained_on.tolist() == alone.trained_on.tolist()


def test_dcai_net_is_torchvision_resnet50_up_to_layer1():
    import torchvision

    torch.manual_seed(0)
    ours = ResNetStage2(10).eval()
    tv = torchvision.models.resnet50(weights=None).eval()
    body = {k: v for k, v in ours.state_dict().items() if not k.startswith("fc.")}
    result = tv.load_state_dict(body, strict=False)
    assert not [k for k in result.missing_keys if k.startswith(("conv1", "bn1", "layer1."))]
    stem = torch.nn.Sequential(tv.conv1, tv.bn1, tv.relu, tv.maxpool, tv.layer1)
    x = torch.rand(3, 1, 32, 32) * 255
    caffe = x.repeat(1, 3, 1, 1) - torch.tensor(CAFFE_MEANS_BGR).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(ours.features(x)[:, 0], stem(caffe).mean((2, 3)), atol=1e-4)
    bn = ours.layer1[0].bn1
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1.001e-5)
    assert ours.fc.weight.shape == (10, 256)


def test_grouped_state_splits_back_into_the_separate_states():
    nets = [FastCNN(3) for _ in range(3)]
    group = FastCNN(3, groups=3)
    group.load_state_dict(stack_states([n.state_dict() for n in nets]))
    for net, part in zip(nets, split_state(group.state_dict(), 3), strict=True):
        for key, value in net.state_dict().items():
            assert torch.equal(part[key], value)


def test_image_cache_serves_decoded_images_without_the_files(tmp_path):
    from model.data import file_sha256

    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (50, 40), dtype=np.uint8)).save(p)
        paths.append(p)
    shas = [file_sha256(p) for p in paths]
    first = load_images(paths, shas, cache_dir=tmp_path / "cache")
    assert first.shape == (5, 32, 32) and first.dtype == np.uint8
    assert len(list((tmp_path / "cache").rglob("*.u8"))) == 5
    for p in paths:
        p.unlink()
    again = load_images(paths, shas, cache_dir=tmp_path / "cache")
    assert np.array_equal(first, again)


def test_unreadable_image_names_its_path(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.png"):
        load_images([bad])
