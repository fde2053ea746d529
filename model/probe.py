"""Linear probe: a logistic-regression head on a frozen backbone's features (``probe-*`` presets).

The backbone runs once per image, ever: its pooled features are cached on disk by the hash of
the decoded image (``<cache_dir>/features/<backbone key>/<h[:2]>/<h>.f32``, the backbone key
naming the architecture, weights, size and fitting), so a retrain after a relabelling only fits
the heads. Each :class:`~model.fit.Job` gets its own multinomial logistic regression
(standardised features, L2, lbfgs), which :func:`fit_probe` folds back into the net's linear head:
the checkpoint is an ordinary :class:`~model.backbones.BackboneNet` that
:mod:`model.predict` reloads and runs on image files like any other.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from model.data import write_atomic
from model.fit import Job, JobResult, predict_group
from model.nets import build_net
from model.presets import TrainConfig
from model.store import ImageStore

#: inverse L2 strength of the head, on standardised features (sklearn's default)
PROBE_C = 1.0
#: the logit of a class the head never saw (it gets no probability worth speaking of)
UNSEEN_LOGIT = -30.0
#: images read from a store at a time while their cache entries are looked up
HASH_BATCH = 1024


def _backbone_key(config: TrainConfig, seed: int) -> str:
    from model.backbones import weights_identity

    text = "|".join(
        [config.backbone, weights_identity(config, seed), str(config.image_size), config.fit]
        + [repr(config.net_kwargs)]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def backbone_features(
    net: torch.nn.Module,
    images: torch.Tensor | ImageStore,
    *,
    cache: Path | None,
    batch_size: int = 64,
) -> tuple[np.ndarray, int]:
    """Pooled features ``[N, dim]`` of every image; ``cache`` (a folder) is read and filled.

    ``images`` is a uint8 tensor or a store (read a batch at a time, never whole). Returns the
    features and how many images the backbone actually ran on.
    """
    n = len(images)
    feats = np.zeros((n, net.dim), dtype=np.float32)
    todo: list[int] = []
    entries: list[Path | None] = [None] * n
    block, block_start = None, 0
    for i in range(n):
        if cache is None:
            todo.append(i)
            continue
        if block is None or i - block_start >= len(block):
            block_start, end = i, min(i + HASH_BATCH, n)
            if isinstance(images, torch.Tensor):
                block = images[block_start:end].cpu().numpy()
            else:
                block = images.rows(np.arange(block_start, end))
        digest = hashlib.sha256(block[i - block_start].tobytes()).hexdigest()
        entry = cache / digest[:2] / f"{digest}.f32"
        entries[i] = entry
        try:
            raw = entry.read_bytes()
        except FileNotFoundError:
            raw = b""
        if len(raw) == 4 * net.dim:
            feats[i] = np.frombuffer(raw, dtype=np.float32)
        else:
            todo.append(i)
    if todo:
        net.eval()
        (out,) = predict_group(net, images, [np.asarray(todo)], batch_size=batch_size, embed=True)
        feats[todo] = out
        for i in todo:
            if entries[i] is not None:
                write_atomic(entries[i], feats[i].tobytes())
    return feats, len(todo)


def _fit_head(x: np.ndarray, y: np.ndarray, n_classes: int, seed: int):
    """Logistic regression on standardised ``x``; returns the head ``(W [C, D], b [C])`` on raw
    features and the training log loss."""
    from sklearn.linear_model import LogisticRegression

    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-6] = 1.0
    xs = (x - mu) / sd
    present = np.unique(y)
    w = np.zeros((n_classes, x.shape[1]), dtype=np.float64)
    b = np.full(n_classes, UNSEEN_LOGIT, dtype=np.float64)
    if len(present) == 1:  # one class only: it always wins
        b[present[0]] = 0.0
    else:
        clf = LogisticRegression(C=PROBE_C, max_iter=1000, random_state=seed)
        clf.fit(xs, y)
        coef, icpt = clf.coef_, clf.intercept_
        if len(present) == 2:  # sklearn's binary form: logit of the second class only
            coef = np.vstack([np.zeros_like(coef), coef])
            icpt = np.concatenate([[0.0], icpt])
        w[clf.classes_] = coef / sd
        b[clf.classes_] = icpt - (coef * (mu / sd)).sum(axis=1)
    probs = head_probs(w, b, x)
    loss = float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)).mean())
    return w.astype(np.float32), b.astype(np.float32), loss


def head_probs(w: np.ndarray, b: np.ndarray, feats: np.ndarray) -> np.ndarray:
    """Softmax of the linear head on features."""
    logits = feats.astype(np.float64) @ np.asarray(w, dtype=np.float64).T + b
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_probe(
    config: TrainConfig,
    images: torch.Tensor | ImageStore,
    labels: np.ndarray,
    jobs: list[Job],
    n_classes: int,
    *,
    seed: int = 0,
    cache_dir: Path | None = None,
    device: torch.device | str | None = None,
) -> tuple[list[JobResult], np.ndarray, dict[str, float]]:
    """One logistic-regression head per job on the frozen backbone's features of ``images``.

    ``images`` is a uint8 tensor (on the device the backbone runs on) or a store whose batches
    go to ``device`` (default CPU).

    Returns the job results (epoch 1 stands for the fitted head), the features of every image
    (the run's embeddings) and timings (``features``, ``heads`` seconds, ``computed`` images).
    """
    import time

    t = time.perf_counter()
    torch.manual_seed(seed)  # random weights (tests) are then the same for every job
    net = build_net(config, n_classes)
    if isinstance(images, torch.Tensor):
        device = images.device
    net.to(torch.device(device or "cpu")).eval()
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / "features" / _backbone_key(config, seed)
    feats, computed = backbone_features(net, images, cache=cache, batch_size=config.eval_batch_size)
    t_feat = time.perf_counter() - t
    t = time.perf_counter()
    from threadpoolctl import threadpool_limits

    # one BLAS thread: these fits are small, and BLAS sized for every CPU the machine reports
    # (not the few this process may use) ran them 50x slower on a busy 2-core box
    with threadpool_limits(limits=1):
        results = [_fit_job(job, feats, labels, n_classes, seed, net) for job in jobs]
    timings = {"features": t_feat, "heads": time.perf_counter() - t, "computed": float(computed)}
    return results, feats, timings


def _fit_job(
    job: Job, feats: np.ndarray, labels: np.ndarray, n_classes: int, seed: int, net: torch.nn.Module
) -> JobResult:
    """One head: fit on the job's training rows, probabilities for its held-out and select rows."""
    res = JobResult(job.name)
    train_idx = np.sort(np.asarray(job.train_idx))
    w, b, loss = _fit_head(feats[train_idx], labels[train_idx], n_classes, seed)
    res.losses, res.best_epoch = [loss], 1
    res.trained_on, res.images_seen = train_idx, len(train_idx)
    if job.select_idx is not None and len(job.select_idx):
        probs = head_probs(w, b, feats[job.select_idx])
        res.select_accuracy = [float((probs.argmax(1) == labels[job.select_idx]).mean())]
    if job.holdout_idx is not None:
        res.holdout_probs[1] = head_probs(w, b, feats[job.holdout_idx])
    if job.keep_state:
        state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        state["fc.weight"] = torch.from_numpy(w)
        state["fc.bias"] = torch.from_numpy(b)
        res.state = state
    return res
