"""One training run: K-fold out-of-fold predictions, the final model, embeddings, map, scores.

Example::

    metrics = run_training(manifest, ["i", "ii", "iii"], Path("runs/r1"), preset="fast")

Writes into ``out_dir``: ``predictions.csv``, ``embeddings.npy``, ``umap.npy``, ``scores.csv``,
``model.pt``, ``metrics.json`` and ``folds.json`` (which ids each model trained on and held out).
The train+val images are split by stratified K-fold; fold model ``k`` trains on the other folds
and scores fold ``k``, so every image's probabilities come from a model that never saw it. The
final model trains on ``train`` and keeps the epoch with the best ``val`` accuracy; it provides the
checkpoint, the embeddings and the accuracies on extra labelled sets. On CUDA the K fold models and
the final model train together as one grouped network; elsewhere one after the other; with
``engine="ray"`` each model (and the embedding extraction) is a task on a Ray cluster.

Images are decoded once into a memory-mapped file (:mod:`model.store`) from which every step reads
its batch. Each model is saved into ``out_dir/partial/`` when it finishes, so a run that was
interrupted resumes with the models it lacks (:mod:`model.partial`); the folder is removed when
the run is complete.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.presets import get_preset
from model.progress import Progress, ProgressFn
from model.run_files import write_eval_predictions, write_metrics, write_outputs
from model.run_inputs import (  # noqa: F401  (SPLITS, REQUIRED: part of model.train's surface)
    REQUIRED,
    SPLITS,
    check_classes,
    check_labelled,
    check_manifest,
    resolve_device,
)
from model.run_scores import map_and_score

ENGINES = ("local", "ray")


def run_training(
    manifest: pd.DataFrame,
    classes: list[str],
    out_dir: Path,
    *,
    preset: str = "fast",
    folds: int = 4,
    seed: int = 0,
    device: str | None = None,
    epochs: int | None = None,
    cache_dir: Path | None = None,
    eval_sets: dict[str, pd.DataFrame] | None = None,
    progress: bool = True,
    on_progress: ProgressFn | None = None,
    weights: str | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Train, predict out-of-fold, embed, map and score; write the run files; return the metrics.

    ``manifest`` has the columns ``id, path, label, split`` (and optionally ``sha256, origin,
    parent_id``); ``split`` is one of train / val / label_book / test. ``eval_sets`` maps a name to
    extra labelled rows (``path, label``) on which the final model's accuracy is reported; labelled
    label_book and test rows of the manifest are reported as the sets ``label_book`` and ``test``.
    ``on_progress(step, fraction)`` receives the step (load, train, embed, umap, scores; while
    training followed by the model, epoch, images/s and the time left, see :mod:`model.progress`)
    and the fraction (0..1) of the whole run done so far. ``engine`` "ray" runs the models and the
    embedding extraction as Ray tasks, on the cluster at ``ray_address`` or a local one; the run
    folder it writes is the same as a local run's. A linear probe (``probe-*`` presets) runs here
    whatever the engine: its backbone features are computed once and cached. ``weights`` is a
    backbone preset's pretrained weights (a file path, or ``"random"``; see :mod:`model.presets`).
    """
    t_start = time.perf_counter()
    config = get_preset(preset, epochs=epochs, weights=weights)
    classes = check_classes(classes)
    rows = check_manifest(manifest, classes, folds)
    extra = {}
    for name, frame in (eval_sets or {}).items():
        if not {"path", "label"} <= set(frame.columns):
            raise ValueError(f"eval set {name!r} needs the columns path and label")
        frame = frame.reset_index(drop=True).astype({"path": str, "label": str})
        check_labelled(frame, classes, f"eval set {name!r}")
        extra[name] = frame
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} does not exist: create the run folder first")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {list(ENGINES)}")
    if engine == "ray":
        from model.ray_engine import _import_ray

        _import_ray()  # says how to install it before any work is done
    dev = resolve_device(device)

    from model.fit import cpu_threads

    with cpu_threads(), tempfile.TemporaryDirectory(prefix="run-images-") as scratch:
        run = OutOfFoldRun(
            rows, classes, out_dir, config, folds, seed, dev, progress, Progress(on_progress)
        )
        return run.execute(cache_dir, extra, t_start, engine, ray_address, Path(scratch))


class OutOfFoldRun:
    """One run, step by step (:meth:`execute` calls them in order):

    1. ``_load``: decode every image once into a store (train+val rows first, then the extras);
    2. ``_engine``: where the models train (this process, or Ray tasks);
    3. ``_train``: the K fold models (out-of-fold probabilities) and the final model;
    4. ``_embed``: the final model's embeddings and its accuracy on every labelled extra set;
    5. :func:`model.run_scores.map_and_score`: neighbours, the 2-D map, the per-image scores and
       image quality;
    6. :mod:`model.run_files`: the run files, the checkpoint and the metrics.

    The inputs are checked beforehand by :mod:`model.run_inputs`.
    """

    def __init__(self, rows, classes, out_dir, config, folds, seed, dev, progress, report) -> None:
        self.rows, self.classes, self.out_dir = rows, classes, out_dir
        self.config, self.folds, self.seed, self.dev = config, folds, seed, dev
        self.progress, self.report = progress, report
        self.pool = rows[rows["split"].isin(["train", "val"])].reset_index(drop=True)
        self.timings: dict[str, float] = {}
        self.pool_sha: list[str] = []
        # CUDA: the K fold models and the final model train together as one grouped network
        # (a timm backbone has no grouped form: its models train one after the other)
        self.grouped = dev.type == "cuda" and config.net != "timm"
        self.cache_dir: Path | None = None
        self.scratch: Path | None = None
        self.probe_features: np.ndarray | None = None  # a linear probe's backbone features
        self.engine_note: str | None = None  # why the run used another engine than asked
        self.eval_sets: dict[str, pd.DataFrame] = {}  # labelled extra sets, in store order
        self.junk_evidence: dict[str, Any] = {}  # what junk?'s second look read

    def execute(
        self,
        cache_dir: Path | None,
        extra: dict[str, pd.DataFrame],
        t_start: float,
        engine_name: str,
        ray_address: str | None,
        scratch: Path,
    ) -> dict[str, Any]:
        self.cache_dir = cache_dir
        self.scratch = scratch
        spec, labels, offsets = self._load(cache_dir, extra, scratch)
        partial = self._partial(labels)
        engine = self._engine(spec, engine_name, ray_address)
        try:
            final, fold_jobs, fold_results, fold_of, fold_epoch = self._train(
                engine, labels, partial
            )
            embedded = self._embed(engine, final, labels, offsets)
        finally:
            engine.close()
        n = len(self.pool)
        oof = np.zeros((n, len(self.classes)), dtype=np.float32)
        for job, res in zip(fold_jobs, fold_results, strict=True):
            oof[job.holdout_idx] = res.holdout_probs[fold_epoch]
        emb = embedded.pool
        xy, scores = map_and_score(self, oof, labels, emb, embedded.label_book, final)
        write_outputs(
            self, oof, fold_of, emb, xy, scores, final, fold_jobs, fold_results, fold_epoch
        )
        write_eval_predictions(self, embedded)
        metrics = write_metrics(
            self, engine, final, fold_results, fold_epoch, oof, labels, scores, embedded, t_start
        )
        partial.clear()
        return metrics

    def _partial(self, labels: np.ndarray):
        """Where finished models wait for a rerun, under a fingerprint of what the run trains."""
        from model.partial import PartialRun, fingerprint

        n = len(self.pool)
        return PartialRun(
            self.out_dir,
            fingerprint(
                config=self.config.to_dict(),
                seed=self.seed,
                folds=self.folds,
                ids=list(self.pool["id"]),
                splits=list(self.pool["split"]),
                labels=labels[:n].tolist(),
                sha256=self.pool_sha,
            ),
        )

    def _engine(self, spec, engine_name: str, ray_address: str | None):
        """The local engine over the image store, or Ray tasks on a cluster."""
        from model.store import ImageStore
        from model.tasks import LocalEngine

        if engine_name == "ray" and self.config.probe:
            # a probe fits small heads on features cached here: nothing worth sending to a cluster
            note = (
                f"preset {self.config.name!r} is a linear probe: it runs on the local engine "
                "(engine 'ray' is for trained models)"
            )
            warnings.warn(note, stacklevel=4)
            self.engine_note = note
            engine_name = "local"
        if engine_name == "ray":
            from model.ray_engine import RayEngine

            self.grouped = False  # one task per model
            return RayEngine(spec, address=ray_address)
        store = ImageStore.open(spec.path, spec.n, spec.size, spec.channels)
        return LocalEngine(store, self.dev, progress=self.progress)

    def _embed(self, engine, final, labels, offsets):
        """The final model's penultimate layer (a probe: its cached features), and its accuracy
        on every labelled extra set."""
        from model.tasks import EmbedTask

        t = time.perf_counter()
        if self.probe_features is not None:  # the probe's cached features are the embeddings
            embedded = self._probe_embedded(final.state, labels, offsets)
        else:
            n = len(self.pool)
            embedded = engine.embed(
                EmbedTask(self.config, len(self.classes), final.state, n, offsets, labels)
            )
        self.timings["embed"] = time.perf_counter() - t
        self.report("embed", 1.0)
        return embedded

    def _load(self, cache_dir: Path | None, extra: dict[str, pd.DataFrame], scratch: Path):
        """Every image the run needs, decoded once into the store: train+val first, then the
        labelled extras. Returns the store's spec, every image's class index and the extras'
        rows in the store."""
        from model.data import file_sha256
        from model.store import build_store

        t = time.perf_counter()
        self.report("load", 0.0)
        rows, pool = self.rows, self.pool
        sets = {
            "label_book": rows[rows["split"] == "label_book"],
            "test": rows[(rows["split"] == "test") & rows["label"].isin(self.classes)],
            **extra,
        }
        self.eval_sets = {name: f for name, f in sets.items() if len(f)}
        frames = [pool, *(f for f in sets.values() if len(f))]
        # train+val hashes also find byte-identical duplicates, so make sure they exist
        self.pool_sha = [
            s if len(s) == 64 else file_sha256(p)
            for s, p in zip(pool["sha256"], pool["path"], strict=True)
        ]
        shas = self.pool_sha + [
            s for f in frames[1:] for s in (f["sha256"] if "sha256" in f else [""] * len(f))
        ]
        index = {c: i for i, c in enumerate(self.classes)}
        labels = np.array([index[lab] for f in frames for lab in f["label"]], dtype=np.int64)
        paths = [p for f in frames for p in f["path"]]
        spec = build_store(
            paths,
            shas,
            cache_dir=cache_dir,
            size=self.config.image_size,
            channels=self.config.channels,
            fit=self.config.fit,
            scratch=scratch,
        )
        offsets, start = {}, len(pool)
        for name, f in sets.items():
            if len(f):
                offsets[name] = np.arange(start, start + len(f))
                start += len(f)
        self.timings["load"] = time.perf_counter() - t
        self.report("load", 1.0)
        return spec, labels, offsets

    def _probe_embedded(self, state, labels, offsets):
        """A linear probe's embeddings are its cached backbone features; its head scores the
        labelled extra sets."""
        from model.probe import head_probs
        from model.tasks import Embedded

        emb_all, n = self.probe_features, len(self.pool)
        w, b = state["fc.weight"].numpy(), state["fc.bias"].numpy()
        pred = {
            name: head_probs(w, b, emb_all[ix]).argmax(1).astype(np.int64)
            for name, ix in offsets.items()
        }
        eval_acc = {name: float((pred[name] == labels[ix]).mean()) for name, ix in offsets.items()}
        lb_emb = emb_all[offsets["label_book"]] if "label_book" in offsets else None
        return Embedded(emb_all[:n].astype(np.float32), lb_emb, eval_acc, pred)

    def _train(self, engine, labels, partial):
        """Fold models and the final model, less those ``partial`` already holds; returns what
        the rest of the run needs."""
        from sklearn.model_selection import StratifiedKFold

        from model.fit import Job, batch_plan
        from model.progress import TrainMeter
        from model.tasks import TrainTask

        config, pool, n_classes = self.config, self.pool, len(self.classes)
        n = len(pool)
        fold_of = np.empty(n, dtype=np.int64)
        kfold = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        for k, (_, held) in enumerate(kfold.split(np.zeros(n), labels[:n])):
            fold_of[held] = k
        is_val = (pool["split"] == "val").to_numpy()
        final_job = Job(
            "final",
            train_idx=np.flatnonzero(~is_val),
            select_idx=np.flatnonzero(is_val) if is_val.any() else None,
            keep_state=True,
            key=self.folds,
        )
        fold_jobs = [
            Job(
                f"fold{k}",
                train_idx=np.flatnonzero(fold_of != k),
                holdout_idx=np.flatnonzero(fold_of == k),
                key=k,
            )
            for k in range(self.folds)
        ]
        epochs = config.epochs
        if config.probe:  # linear probe: heads on cached frozen features, no training loop
            from model.probe import fit_probe

            t = time.perf_counter()
            # the backbone reads the store a batch at a time; the features it returns are small
            results, self.probe_features, probe_t = fit_probe(
                config,
                engine.images,
                labels,
                [*fold_jobs, final_job],
                n_classes,
                seed=self.seed,
                cache_dir=self.cache_dir,
                device=self.dev,
            )
            *fold_results, final = results
            self.timings["final"] = 0.0
            self.timings["folds"] = time.perf_counter() - t
            self.timings["probe_features"] = probe_t["features"]
            self.timings["probe_heads"] = probe_t["heads"]
            self.report("train", 1.0)
            return final, fold_jobs, fold_results, fold_of, 1
        names = {"final": "final model"}
        names.update({j.name: f"fold {k + 1}/{self.folds}" for k, j in enumerate(fold_jobs)})
        results = {}
        for job in [*fold_jobs, final_job]:
            saved = partial.load(job.name)
            if saved is not None:
                results[job.name] = saved
        todo = [j for j in [*fold_jobs, final_job] if j.name not in results]
        per_epoch = {j.name: int(np.prod(batch_plan(config, [j]))) for j in todo}
        meter = TrainMeter(self.report, sum(per_epoch.values()) * epochs)
        self.timings["folds"] = self.timings["final"] = 0.0

        def best_or_last() -> int:
            return results["final"].best_epoch if config.fold_epoch == "best" else epochs

        if self.grouped and todo:
            self._train_grouped(engine, labels, todo, results, partial, meter, best_or_last)
        else:
            counted = dict.fromkeys(per_epoch, 0)

            def on_epoch(task):
                def hook(epoch: int, total: int) -> None:
                    counted[task.job.name] += per_epoch[task.job.name]
                    meter.epoch(task.label, epoch, total, per_epoch[task.job.name])

                return hook

            def task_of(job: Job) -> TrainTask:
                if job.name == "final":
                    return TrainTask(
                        names["final"], config, job, n_classes, epochs, self.seed, labels
                    )
                job.snapshot_epochs = frozenset({best_or_last()})
                return TrainTask(
                    names[job.name], config, job, n_classes, best_or_last(), self.seed, labels
                )

            # folds that keep the final model's best epoch wait for it; others train alongside
            stages = [
                [j for j in todo if j.name == "final"],
                [j for j in todo if j.name != "final"],
            ]
            if config.fold_epoch != "best":
                stages = [stages[0] + stages[1]]
            for stage in stages:
                if not stage:
                    continue
                t = time.perf_counter()
                for task, res in engine.train([task_of(j) for j in stage], on_epoch):
                    partial.save(task.job.name, res)
                    results[task.job.name] = res
                    meter.finished(task.label, res.images_seen, counted[task.job.name])
                    now = time.perf_counter()
                    self.timings["final" if task.job.name == "final" else "folds"] += now - t
                    t = now
        final = results["final"]
        fold_epoch = best_or_last()
        fold_results = [results[j.name] for j in fold_jobs]
        return final, fold_jobs, fold_results, fold_of, fold_epoch

    def _train_grouped(self, engine, labels, todo, results, partial, meter, best_or_last):
        """CUDA: the models still to train, together as one grouped network."""
        from model.fit import batch_plan, fit_group

        config, epochs = self.config, self.config.epochs
        for job in todo:
            if job.name == "final":
                continue
            if "final" in results:  # resumed: the epoch to keep is known
                job.snapshot_epochs = frozenset({best_or_last()})
            else:  # "best" is only known at the end: keep every epoch's probs
                job.snapshot_epochs = None if config.fold_epoch == "best" else frozenset({epochs})
        per_epoch = int(np.prod(batch_plan(config, todo))) * len(todo)
        label = "fold models and final model together"
        t = time.perf_counter()
        trained = fit_group(
            config,
            engine.images,
            labels,
            todo,
            len(self.classes),
            seed=self.seed,
            epochs=epochs,
            progress=self.progress,
            on_epoch=lambda e, total: meter.epoch(label, e, total, per_epoch),
            desc="folds+final",
            device=self.dev,
        )
        for job, res in zip(todo, trained, strict=True):
            partial.save(job.name, res)
            results[job.name] = res
        meter.finished(label, per_epoch * epochs, per_epoch * epochs)
        self.timings["folds"] = time.perf_counter() - t
