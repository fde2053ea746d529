"""The training loop: one model, or several trained at once as one grouped network.

:func:`fit_group` trains one copy of the net per :class:`Job` from uint8 images: a tensor already on
the device, or an :class:`~model.store.ImageStore` (a memory-mapped file) from which each step reads
just its batch, so memory grows with the batch and not with the data set. With one
job it is a plain PyTorch loop; with several (on a GPU, the K fold models plus the final model) the
copies run as one grouped network (see :mod:`model.nets`), which trains each copy exactly as if it
were alone (own batches, own BatchNorm statistics, Adam is per element) while launching one kernel
per layer instead of one per layer and model. On CUDA the whole training step can be captured once
as a CUDA graph and replayed, because a batch-8 ResNet stage is bound by kernel launches.

Batches: each job draws from an endless stream of shuffled permutations of its training indices
(seeded by ``(seed, job.key)``), and an epoch is ``ceil(largest job / batch)`` full batches for
every job. So a job sees each of its images once per epoch (a job smaller than the largest sees a
few images of its next permutation as well), and there is never a tiny last batch.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from model.nets import build_net, stack_states, state_of
from model.presets import TrainConfig
from model.store import ImageStore

#: a training step on fewer pixels than this (16 images of 32x32) runs on one CPU thread
TINY_STEP_PIXELS = 16 * 32 * 32


@dataclass
class Job:
    """One model to train: what it learns from, what picks its epoch, what it must predict."""

    name: str
    train_idx: np.ndarray
    #: accuracy on these picks the best epoch (the final model: val); None: the last epoch
    select_idx: np.ndarray | None = None
    #: class probabilities of these are recorded (a fold model: its held-out fold)
    holdout_idx: np.ndarray | None = None
    #: 1-based epochs at which the held-out probabilities are recorded; None: every epoch
    snapshot_epochs: frozenset[int] | None = None
    keep_state: bool = False
    key: int = 0  # seeds this job's initial weights and batch order together with the run seed


@dataclass
class JobResult:
    name: str
    losses: list[float] = field(default_factory=list)  # mean training loss per epoch
    select_accuracy: list[float] = field(default_factory=list)  # per epoch, if select_idx
    best_epoch: int = 0
    state: dict[str, torch.Tensor] | None = None  # one-copy state dict of best_epoch (CPU)
    holdout_probs: dict[int, np.ndarray] = field(default_factory=dict)  # epoch -> [n, classes]
    trained_on: np.ndarray | None = None  # every index the loop drew a batch from (sorted)
    images_seen: int = 0


@contextmanager
def cpu_threads(batch_pixels: int | None = None) -> Iterator[None]:
    """Set torch's CPU threads for a block: the cores this process may use (containers often
    allow fewer than torch counts), and one thread when a step's work is tiny (``batch_pixels``
    under :data:`TINY_STEP_PIXELS`), where splitting each op costs more than it gains and loses
    badly whenever another process wants the same cores."""
    before = torch.get_num_threads()
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else before
    threads = max(1, min(before, allowed))
    if batch_pixels is not None and batch_pixels < TINY_STEP_PIXELS:
        threads = 1
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Rows:
    """Batches of images as uint8 tensors on ``device``, from wherever the images are.

    A tensor (already on its device) is indexed in place; an :class:`ImageStore` or a numpy
    array is read one batch of rows at a time and the batch alone is copied to the device.
    """

    def __init__(
        self, images: torch.Tensor | ImageStore | np.ndarray, device: torch.device
    ) -> None:
        if isinstance(images, np.ndarray):
            images = ImageStore(images)
        self.images = images
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def __call__(self, idx: np.ndarray) -> torch.Tensor:
        if isinstance(self.images, torch.Tensor):
            return self.images[torch.as_tensor(idx, device=self.images.device)]
        return torch.from_numpy(self.images.rows(idx)).to(self.device)


def _device_of(images: object, device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return images.device if isinstance(images, torch.Tensor) else torch.device("cpu")


def batch_plan(config: TrainConfig, jobs: list[Job]) -> tuple[int, int]:
    """``(batch size, steps per epoch)`` of training ``jobs`` together.

    At least ~4 steps per epoch, so that tiny data sets still get BatchNorm statistics and steps.
    """
    batch = max(2, min(config.batch_size, min(len(j.train_idx) for j in jobs) // 4))
    return batch, math.ceil(max(len(j.train_idx) for j in jobs) / batch)


def _streams(jobs: list[Job], seed: int) -> list[Iterator[np.ndarray]]:
    def stream(job: Job) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([seed, job.key])
        while True:
            yield from rng.permutation(job.train_idx)

    return [stream(job) for job in jobs]


def lr_schedule(config: TrainConfig, total_steps: int) -> np.ndarray:
    """Learning rate per step: constant, or one-cycle (cosine warm-up 25%, then cosine decay)."""
    if config.schedule == "constant":
        return np.full(total_steps, config.lr)
    t = np.arange(total_steps) / max(total_steps - 1, 1)
    warm = 0.25
    start, end = config.lr / 25.0, config.lr / 1e4  # torch OneCycleLR's default divisors
    up = start + (config.lr - start) * (1 - np.cos(np.pi * t / warm)) / 2
    down = end + (config.lr - end) * (1 + np.cos(np.pi * (t - warm) / (1 - warm))) / 2
    return np.where(t < warm, up, down)


class _Augment:
    """Random small rotation, scale and shift per image (one fused grid-sample)."""

    def __init__(self, size: int, device: torch.device) -> None:
        lin = (torch.arange(size, device=device) * 2 + 1) / size - 1
        self.yy, self.xx = torch.meshgrid(lin, lin, indexing="ij")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # [B, G, H, W] float
        b, g, h, w = x.shape
        flat = x.reshape(b * g, 1, h, w)
        n = flat.shape[0]
        r = torch.rand(n, 4, device=x.device) * 2 - 1
        angle = r[:, 0] * (10 * math.pi / 180)
        scale = 1 + 0.1 * r[:, 1]
        cos = (torch.cos(angle) / scale)[:, None, None]
        sin = (torch.sin(angle) / scale)[:, None, None]
        tx, ty = 0.08 * r[:, 2, None, None], 0.08 * r[:, 3, None, None]
        # affine_grid and bmm with 3-wide matrices are slow on CPU; plain broadcasting is not
        grid = torch.stack(
            [cos * self.xx - sin * self.yy + tx, sin * self.xx + cos * self.yy + ty], dim=-1
        )
        out = F.grid_sample(flat, grid, align_corners=False, padding_mode="border")
        return out.view(b, g, h, w)


@torch.no_grad()
def predict_group(
    net: torch.nn.Module,
    images: torch.Tensor | ImageStore | np.ndarray,
    index_lists: list[np.ndarray],
    *,
    batch_size: int = 1024,
    amp: bool = False,
    embed: bool = False,
) -> list[np.ndarray]:
    """Softmax probabilities (or penultimate features) of copy ``g`` on ``index_lists[g]``.

    ``images`` is uint8 ``[N, H, W]``: a tensor on the net's device, or a store read one batch at
    a time. Copies see different images, so the lists are padded to one length and the padding is
    dropped again.
    """
    device = next(net.parameters()).device
    rows = images if isinstance(images, Rows) else Rows(images, device)
    was_training = net.training
    net.eval()
    lengths = [len(ix) for ix in index_lists]
    longest = max(lengths)
    padded = np.stack(
        [np.resize(ix, longest) if len(ix) else np.zeros(longest, int) for ix in index_lists]
    )
    chunks = []
    for start in range(0, longest, batch_size):
        x = rows(padded[:, start : start + batch_size]).transpose(0, 1).float()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = net.features(x) if embed else net(x)
        chunks.append((out.float() if embed else torch.softmax(out.float(), dim=-1)).cpu())
    net.train(was_training)
    result = torch.cat(chunks).transpose(0, 1).numpy()  # [G, longest, D]
    return [result[g, :n] for g, n in enumerate(lengths)]


def fit_group(
    config: TrainConfig,
    images: torch.Tensor | ImageStore | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    jobs: list[Job],
    n_classes: int,
    *,
    seed: int = 0,
    epochs: int | None = None,
    amp: bool | None = None,
    cuda_graphs: bool | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
    progress: bool = False,
    desc: str = "train",
    device: str | torch.device | None = None,
) -> list[JobResult]:
    """Train one copy of ``config``'s net per job on ``images``/``labels``.

    ``images`` is a uint8 tensor on the device, or a store whose batches are copied to ``device``
    (default: the tensor's device, else the CPU) step by step. Returns one :class:`JobResult` per
    job. ``amp`` (bf16 autocast) defaults to ``config.amp`` on CUDA and off elsewhere;
    ``cuda_graphs`` to on for CUDA. ``on_epoch(epoch, epochs)`` is called after every epoch.
    """
    from tqdm.auto import tqdm

    device = _device_of(images, device)
    rows = Rows(images, device)
    labels_np = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    cuda = device.type == "cuda"
    amp = (cuda and config.amp) if amp is None else amp
    cuda_graphs = cuda if cuda_graphs is None else (cuda_graphs and cuda)
    epochs = epochs or config.epochs
    groups = len(jobs)

    # Each copy starts from the weights a one-copy net gets from its own seed, so grouped and
    # sequential training start identically.
    states = []
    for job in jobs:
        torch.manual_seed(seed * 100_003 + job.key)
        states.append(build_net(config, n_classes).state_dict())
    net = build_net(config, n_classes, groups)
    net.load_state_dict(stack_states(states))
    net.to(device).train()
    torch.manual_seed(seed)  # augmentation draws

    batch, steps = batch_plan(config, jobs)
    lrs = lr_schedule(config, steps * epochs)
    opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    lr0: float | torch.Tensor = float(lrs[0])
    if cuda_graphs and config.schedule != "constant":
        lr0 = torch.tensor(lr0, device=device)  # a captured step reads the lr from a tensor
    opt = opt_cls(
        net.parameters(),
        lr=lr0,
        weight_decay=config.weight_decay,
        eps=config.adam_eps,
        capturable=cuda_graphs,
    )
    augment = _Augment(config.image_size, device) if config.augment else None
    labels_dev = torch.as_tensor(labels_np, device=device)
    loss_sum = torch.zeros(groups, device=device)

    def step_losses(x_u8: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Images [G, B, H, W] uint8 and labels [G, B] -> per-copy mean loss [G]."""
        x = x_u8.transpose(0, 1).float()  # [B, G, H, W]
        if augment is not None:
            x = augment(x)
        # no autocast weight cache: a captured graph must not keep casts from its capture
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp, cache_enabled=False):
            logits = net(x)  # [B, G, C]
        per = F.cross_entropy(
            logits.float().permute(0, 2, 1),
            y.transpose(0, 1),
            reduction="none",
            label_smoothing=config.label_smoothing,
        )
        return per.mean(dim=0)

    def train_step(x_u8: torch.Tensor, y: torch.Tensor) -> None:
        losses = step_losses(x_u8, y)
        # Copies share no parameters, so the sum's gradient is each copy's own gradient.
        losses.sum().backward()
        opt.step()
        loss_sum.add_(losses.detach())

    def set_lr(value: float) -> None:
        for group in opt.param_groups:
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(value)
            else:
                group["lr"] = value

    pixels = None if cuda else batch * groups * config.image_size**2
    with cpu_threads(pixels):
        results = [JobResult(name=j.name) for j in jobs]
        best = [-1.0] * groups
        streams = _streams(jobs, seed)
        seen = [np.zeros(len(labels_np), dtype=bool) for _ in jobs]
        graph: torch.cuda.CUDAGraph | None = None
        # a captured graph reads its batch from these tensors: each step copies its batch in
        static: tuple[torch.Tensor, torch.Tensor] | None = None
        global_step = 0
        bar = tqdm(total=epochs, desc=desc, disable=not progress, leave=False)
        for epoch in range(1, epochs + 1):
            order = np.stack([np.fromiter(s, dtype=np.int64, count=steps * batch) for s in streams])
            for g in range(groups):
                seen[g][order[g]] = True
            order = order.reshape(groups, steps, batch)
            loss_sum.zero_()
            for s in range(steps):
                set_lr(float(lrs[global_step]))
                global_step += 1
                idx = order[:, s]
                batch_x = rows(idx)
                batch_y = labels_dev[torch.as_tensor(idx, device=device)]
                if graph is not None:
                    static[0].copy_(batch_x)
                    static[1].copy_(batch_y)
                    graph.replay()
                    continue
                opt.zero_grad(set_to_none=True)
                if cuda_graphs and global_step > 3:  # capture after a few eager warm-up steps
                    graph, static = _capture(train_step, (batch_x, batch_y), opt)
                    if graph is not None:
                        graph.replay()
                        continue
                    cuda_graphs = False
                if cuda_graphs:  # warm-up steps run on a side stream, as capture requires
                    side = torch.cuda.Stream()
                    side.wait_stream(torch.cuda.current_stream())
                    with torch.cuda.stream(side):
                        train_step(batch_x, batch_y)
                    torch.cuda.current_stream().wait_stream(side)
                else:
                    train_step(batch_x, batch_y)
            epoch_loss = (loss_sum / steps).tolist()
            _evaluate(net, rows, labels_np, jobs, results, best, epoch, config, amp)
            for g, res in enumerate(results):
                res.losses.append(epoch_loss[g])
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(epoch_loss):.3f}")
            if on_epoch is not None:
                on_epoch(epoch, epochs)
        bar.close()

    state = net.state_dict()
    for g, (job, res) in enumerate(zip(jobs, results, strict=True)):
        if job.select_idx is None or not len(job.select_idx):
            res.best_epoch = epochs
            if job.keep_state:
                res.state = {k: v.cpu() for k, v in state_of(state, groups, g).items()}
        res.trained_on = np.flatnonzero(seen[g])
        res.images_seen = epochs * steps * batch
    return results


def _capture(
    train_step: Callable[[torch.Tensor, torch.Tensor], None],
    batch: tuple[torch.Tensor, torch.Tensor],
    opt: torch.optim.Optimizer,
) -> tuple[torch.cuda.CUDAGraph | None, tuple[torch.Tensor, torch.Tensor]]:
    """Record one whole training step (forward, backward, optimizer) as a CUDA graph.

    ``batch`` is (images, labels) on the device; the graph reads the returned copies, which the
    caller refills before each replay. Returns ``(None, batch)`` with a warning when this
    PyTorch/driver cannot capture it; the caller then goes on without graphs (capturing executes
    nothing, so no step is lost).
    """
    static = (batch[0].clone(), batch[1].clone())
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    try:
        with torch.cuda.graph(graph):
            train_step(*static)
    except RuntimeError as exc:
        warnings.warn(f"CUDA graph capture failed, training without graphs: {exc}", stacklevel=3)
        torch.cuda.synchronize()
        opt.zero_grad(set_to_none=True)
        return None, batch
    return graph, static


def _evaluate(
    net: torch.nn.Module,
    rows: Rows,
    labels_np: np.ndarray,
    jobs: list[Job],
    results: list[JobResult],
    best: list[float],
    epoch: int,
    config: TrainConfig,
    amp: bool,
) -> None:
    """After an epoch: accuracy on each job's select set, probabilities of its held-out set."""
    groups = len(jobs)
    wanted: list[np.ndarray] = []
    parts: list[tuple[int, int]] = []
    for job in jobs:
        sel = job.select_idx if job.select_idx is not None else np.zeros(0, dtype=np.int64)
        snap = job.holdout_idx is not None and (
            job.snapshot_epochs is None or epoch in job.snapshot_epochs
        )
        hold = job.holdout_idx if snap else np.zeros(0, dtype=np.int64)
        wanted.append(np.concatenate([sel, hold]).astype(np.int64))
        parts.append((len(sel), len(hold)))
    if not any(len(w) for w in wanted):
        return
    probs = predict_group(net, rows, wanted, batch_size=config.eval_batch_size, amp=amp)
    state = None
    for g, (job, res) in enumerate(zip(jobs, results, strict=True)):
        n_sel, n_hold = parts[g]
        if n_sel:
            acc = float((probs[g][:n_sel].argmax(1) == labels_np[job.select_idx]).mean())
            res.select_accuracy.append(acc)
            if acc > best[g]:  # strictly better, like Keras' ModelCheckpoint(save_best_only)
                best[g], res.best_epoch = acc, epoch
                if job.keep_state:
                    state = net.state_dict() if state is None else state
                    res.state = {k: v.cpu() for k, v in state_of(state, groups, g).items()}
        if n_hold:
            res.holdout_probs[epoch] = probs[g][n_sel:].astype(np.float32)
