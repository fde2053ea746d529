"""A run's map-and-score step: neighbours, the 2-D map, the per-image scores and image quality.

Example (inside :meth:`model.train.OutOfFoldRun.execute`)::

    xy, scores = map_and_score(run, oof, labels, emb, lb_emb, final)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.train import OutOfFoldRun


def map_and_score(run: OutOfFoldRun, oof, labels, emb, lb_emb, final):
    """Neighbours (shared by the map and the scores), the 2-D map, the per-image scores (the
    final model gives ``junk?`` its second look at the files) and the image-quality words."""
    from model.embed import neighbours, umap_2d
    from model.near_dup import THUMB
    from model.predict import checkpoint_from_state
    from model.quality import image_quality, merge_issues
    from model.scores import OUTLIER_K, score_table
    from model.second_look import ImageLook
    from model.store import ImageStore, build_store

    n = len(run.pool)
    t = time.perf_counter()
    knn = neighbours(emb, max(16, OUTLIER_K + 1), seed=run.seed)
    xy = umap_2d(emb, seed=run.seed, knn=knn)
    run.timings["umap"] = time.perf_counter() - t
    run.report("umap", 1.0)

    t = time.perf_counter()
    pool = run.pool
    families = [  # an augmented copy belongs to its parent's family: not a duplicate
        p if o == "augmented" and p else i
        for i, o, p in zip(pool["id"], pool["origin"], pool["parent_id"], strict=True)
    ]
    book = run.rows[run.rows["split"] == "label_book"]
    # a probe's final state is its whole backbone net too: every preset can take the look
    final_model = checkpoint_from_state(run.config, run.classes, final.state, run.dev)
    # small RGB thumbnails (a store of their own, cached like the training one) confirm
    # near-duplicates in pixels
    thumb_spec = build_store(
        list(pool["path"]),
        run.pool_sha,
        cache_dir=run.cache_dir,
        size=THUMB,
        channels=3,
        scratch=None if run.scratch is None else run.scratch / "thumbs",
    )
    thumbs = ImageStore.open(thumb_spec.path, thumb_spec.n, THUMB, 3)
    scores = score_table(
        ids=list(pool["id"]),
        labels=labels[:n],
        splits=list(pool["split"]),
        sha256s=run.pool_sha,
        families=families,
        probs=oof,
        embeddings=emb,
        knn=knn,
        classes=run.classes,
        label_book_ids=list(book["id"]),
        label_book_embeddings=lb_emb,
        label_book_labels=np.asarray(
            [run.classes.index(c) if c in run.classes else -1 for c in book["label"]]
        ),
        seed=run.seed,
        look=ImageLook(final_model, list(pool["path"])),
        thumbs=thumbs.rows,
    )
    run.junk_evidence = scores.attrs.get("junk_evidence", {})
    run.timings["scores"] = time.perf_counter() - t
    t = time.perf_counter()
    # blurry, dark, overexposed, ... (cleanvision) join the label-quality words
    quality = image_quality(list(pool["path"]), list(pool["id"]))
    scores["issues"] = merge_issues(scores["issues"], quality["quality_issues"])
    run.timings["quality"] = time.perf_counter() - t
    run.report("scores", 1.0)
    return xy, scores
