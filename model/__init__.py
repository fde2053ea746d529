"""The fixed model: data loading, nets, K-fold training, embeddings, UMAP and per-image scores.

Importing this package is cheap (no torch); the heavy modules load where they are used::

    from model.train import run_training            # train, predict out-of-fold, score, write a run
    from model.predict import load_checkpoint, predict_paths   # reuse a run's model.pt

Modules: ``presets`` (the training recipes; ``PRESETS`` names them, torch-free), ``data``
(decode + cache images), ``nets`` (the networks), ``fit`` (the training loop, one model or several
as one grouped network), ``embed`` (embeddings and the 2-D map), ``scores`` (per-image review
signals; ``junk``, ``second_look`` and ``near_dup`` decide its junk and duplicate columns, with
``robust`` statistics), ``predict`` (checkpoints), ``train`` (the whole run; importing it loads no
torch) with its parts
``run_inputs`` (the checks before any work), ``run_scores`` (the map-and-score step) and
``run_files`` (the files a run writes).
"""
