"""The disagreement report: where people (and the model) disagree, and how far review has got.

Teams find that disagreement clusters on a few class pairs (ii/iii, iv/vi, ix/xi shapes); this report
shows them so the team can agree on a rule and write it in the label book.

:func:`disagreement_report` returns a JSON-serialisable dict (for the dashboard and ``--json``);
:func:`describe` renders it as text for the terminal. Three confusion matrices, each ``K x K`` over
the workspace's classes:

- ``annotator_vs_annotator``: for every row and every pair of annotators who both typed a label,
  ``m[a][b]`` and ``m[b][a]`` are incremented (symmetric; an agreement adds 1 to the diagonal).
- ``annotator_vs_label``: rows are the label in the current version, columns what an annotator typed
  (one count per annotator vote).
- ``model_vs_consensus``: rows are the consensus label, columns the model's out-of-fold prediction.

Removal votes (``x``) are not classes: they are counted per annotator instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import combinations

from sheets_bridge.core.consensus import Decision, decide_votes
from sheets_bridge.core.crowd import crowdlab, probabilities
from sheets_bridge.core.labels import REMOVE_MARK
from sheets_bridge.core.schema import KEY
from sheets_bridge.core.votes import RowVotes, read_votes, shown
from sheets_bridge.loop.audit import audit, count_matrix, top_pairs
from sheets_bridge.store.workspace import Workspace

#: How many of the first rows of the sheet's review order (``rank``) to check for unreviewed rows.
TOP_N: tuple[int, ...] = (50, 100, 200)
#: How many class pairs to list.
TOP_PAIRS = 10


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def _rank(row: Mapping[str, str]) -> float | None:
    try:
        return float(row.get("rank", ""))
    except ValueError:
        return None


def build_report(
    rows: Sequence[Mapping[str, str]],
    labels: Mapping[str, str],
    annotators: Sequence[str],
    classes: Sequence[str],
    *,
    predictions=None,
    rule: str = "majority",
    top_n: Sequence[int] = TOP_N,
) -> dict:
    """The report over plain data (what :func:`disagreement_report` reads from a workspace).

    ``rows`` are sheet rows; only those whose id is in ``labels`` (the current label per id) count.
    ``predictions`` is a run's ``predictions.csv`` frame (``id``, ``pred``, ``p_<class>``) or None.
    ``rule`` is the consensus rule used for "agreement with the consensus": majority or crowdlab.
    """
    classes = tuple(classes)
    idx = {c: k for k, c in enumerate(classes)}
    rows = [r for r in rows if str(r.get(KEY, "")) in labels]
    seen: set[str] = set()
    rows = [r for r in rows if not (r[KEY] in seen or seen.add(r[KEY]))]  # first row of an id wins

    probs = None
    preds: dict[str, str] = {}
    if predictions is not None and len(predictions):
        preds = dict(
            zip(predictions[KEY].astype(str), predictions["pred"].astype(str), strict=True)
        )
        try:
            probs = probabilities(predictions, classes)
        except ValueError:
            probs = None
    read: dict[str, RowVotes] = {r[KEY]: read_votes(r, annotators, classes) for r in rows}
    crowd = crowdlab(rows, labels, probs, annotators, classes)
    if rule == "crowdlab":
        decisions: dict[str, Decision] = crowd.decisions
    else:
        decisions = {rid: decide_votes(rv, labels[rid]) for rid, rv in read.items()}

    aa, al, mc = count_matrix(classes), count_matrix(classes), count_matrix(classes)
    per: dict[str, Counter] = {a: Counter() for a in annotators}
    reviewed = 0
    for row in rows:
        rid, given = row[KEY], labels[row[KEY]]
        rv = read[rid]
        cast, valid = rv.cells, rv.votes
        reviewed += rv.reviewed
        d = decisions.get(rid)
        decided = ""
        if d and d.action in ("keep", "relabel"):
            decided = d.label or ""
        elif d and d.action == "remove":
            decided = REMOVE_MARK  # compared with shown(vote), which shows a removal as x
        for a, v in cast.items():
            c = per[a]
            c[v.kind] += 1
            if v.kind == "label" and given in idx:
                al[idx[given]][idx[v.label]] += 1
                c["with_label_total"] += 1
                c["with_label_agree"] += v.label == given
            if a in valid and decided:
                c["with_consensus_total"] += 1
                c["with_consensus_agree"] += shown(v) == decided
        for a, b in combinations(valid, 2):
            va, vb = valid[a], valid[b]
            same = shown(va) == shown(vb)
            for x in (a, b):
                per[x]["with_others_total"] += 1
                per[x]["with_others_agree"] += same
            if va.kind == vb.kind == "label":
                i, j = idx[va.label], idx[vb.label]
                aa[i][j] += 1
                if i != j:
                    aa[j][i] += 1
        if d and d.action in ("keep", "relabel") and rid in preds and preds[rid] in idx:
            mc[idx[d.label]][idx[preds[rid]]] += 1

    pairs: Counter = Counter()
    for m, symmetric in ((aa, True), (al, False)):
        for i in range(len(classes)):
            for j in range(len(classes)):
                if i != j and (not symmetric or i < j):
                    pairs[tuple(sorted((classes[i], classes[j]), key=idx.get))] += m[i][j]
    confused = [
        {"a": a, "b": b, "count": n}
        for (a, b), n in sorted(
            pairs.items(), key=lambda kv: (-kv[1], idx[kv[0][0]], idx[kv[0][1]])
        )
        if n > 0
    ][:TOP_PAIRS]

    annotator_stats = {}
    for a in annotators:
        c = per[a]
        annotator_stats[a] = {
            "votes": c["label"],
            "removes": c["remove"],
            "unsure": c["unsure"],
            "invalid": c["invalid"],
            "agreement_with_others": _rate(c["with_others_agree"], c["with_others_total"]),
            "agreement_with_consensus": _rate(c["with_consensus_agree"], c["with_consensus_total"]),
            "agreement_with_label": _rate(c["with_label_agree"], c["with_label_total"]),
            "crowdlab_quality": crowd.quality.get(a),
        }

    ranked = sorted((r for r in rows if _rank(r) is not None), key=lambda r: (_rank(r), r[KEY]))
    unreviewed = []
    for n in top_n:
        head = ranked[:n]
        open_ = [r[KEY] for r in head if not read[r[KEY]].reviewed]
        unreviewed.append({"top": n, "rows": len(head), "unreviewed": len(open_)})

    actions = Counter(d.action for d in decisions.values())
    return {
        "classes": list(classes),
        "annotators": list(annotators),
        "rule": rule,
        "rows": len(rows),
        "reviewed": reviewed,
        "decisions": {
            k: actions.get(k, 0)
            for k in ("keep", "relabel", "remove", "conflict", "blocked", "none")
        },
        "matrices": {
            "annotator_vs_annotator": {
                "matrix": aa,
                "top": top_pairs(aa, classes, True, TOP_PAIRS),
            },
            "annotator_vs_label": {"matrix": al, "top": top_pairs(al, classes, False, TOP_PAIRS)},
            "model_vs_consensus": {"matrix": mc, "top": top_pairs(mc, classes, False, TOP_PAIRS)},
        },
        "top_pairs": confused,
        "annotator_stats": annotator_stats,
        "crowdlab": crowd.as_dict(),
        "unreviewed": unreviewed,
    }


def removed_rows(
    rows: Sequence[Mapping[str, str]],
    ids: Collection[str],
    annotators: Sequence[str],
    classes: Sequence[str],
) -> dict:
    """The sheet's rows of images the last pull removed (``ids``): they stay in the sheet until
    the next push marks them, and with the version's rows they add up to what that pull read."""
    picked = [r for r in rows if str(r.get(KEY, "")) in ids]
    read = [read_votes(r, annotators, classes) for r in picked]
    return {
        "rows": len(picked),
        "reviewed": sum(rv.reviewed for rv in read),
        "removes_by_annotator": {
            a: sum(1 for rv in read if a in rv.votes and rv.votes[a].kind == "remove")
            for a in annotators
        },
    }


def disagreement_report(ws: Workspace, *, top_n: Sequence[int] = TOP_N) -> dict:
    """The report for a workspace: its sheet, its current version and the latest run.

    The latest complete run of the current version is used, else the latest run at all (its
    probabilities still describe the same images). ``version`` and ``run`` name them.
    """
    version = ws.current
    manifest = version.manifest()
    labels = dict(zip(manifest["id"], manifest["label"], strict=True))
    run = ws.latest_run(version.name) or ws.latest_run()
    predictions = None
    if run is not None and (run.path / "predictions.csv").exists():
        predictions = run.predictions()
    table = ws.sheet().read()
    report = build_report(
        table.rows,
        labels,
        ws.config.annotators,
        ws.classes,
        predictions=predictions,
        rule=ws.config.consensus,
        top_n=top_n,
    )
    meta = version.meta()
    last_pull = None
    if isinstance(meta.get("pull"), dict):  # the counts the pull that made this version reported
        last_pull = {"version": version.name, "base": meta.get("parent"), **meta["pull"]}
    removed = None
    if meta.get("parent"):
        base = ws.version(meta["parent"]).manifest()
        gone = set(base["id"].astype(str)) - set(labels)
        removed = removed_rows(table.rows, gone, ws.config.annotators, ws.classes)
    return {
        "version": version.name,
        "run": run.id if run else None,
        **report,
        "sheet_rows": len(table.rows),
        "removed_rows": removed,
        "last_pull": last_pull,
        **audit(ws, run),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0%}"


def _table(m: list[list[int]], classes: Sequence[str], rows_are: str, cols_are: str) -> list[str]:
    width = max(4, *(len(str(v)) + 1 for r in m for v in r), *(len(c) + 1 for c in classes))
    corner = f"{rows_are} / {cols_are}"
    head = f"{corner:>{max(width, 14)}}"
    lines = [head + "".join(f"{c:>{width}}" for c in classes)]
    for c, r in zip(classes, m, strict=True):
        lines.append(f"{c:>{max(width, 14)}}" + "".join(f"{v or '.':>{width}}" for v in r))
    return lines


def _rows_line(report: Mapping) -> str:
    """ "36 rows in the sheet: 33 of v0002 (3 reviewed) and 3 of images the last pull removed (3
    reviewed)" -- the parts add up to the sheet and to what the last pull read."""
    here = f"{report['rows']} of {report.get('version', '?')} ({report['reviewed']} reviewed)"
    gone = report.get("removed_rows")
    total = report.get("sheet_rows", report["rows"])
    extra = total - report["rows"] - (gone["rows"] if gone else 0)
    parts = [here]
    if gone and gone["rows"]:
        parts.append(
            f"{gone['rows']} of images the last pull removed ({gone['reviewed']} reviewed)"
        )
    if extra:
        parts.append(f"{extra} of images removed earlier")
    return f"{total} rows in the sheet: " + " and ".join(parts)


def describe(report: Mapping) -> str:
    """The report as text for the terminal."""
    classes = report["classes"]
    head = [
        f"disagreement report for {report.get('version', '?')}"
        + (f" (model: {report['run']})" if report.get("run") else " (no model run yet)"),
        _rows_line(report)
        + "; "
        + (
            ", ".join(f"{n} {k}" for k, n in report["decisions"].items() if n and k != "none")
            or "no decisions"
        )
        + f" (rule: {report['rule']})",
    ]
    out = list(head)
    last = report.get("last_pull")
    if last:
        per = ", ".join(f"{a} {n}" for a, n in last["removes_by_annotator"].items())
        out.append(
            f"last pull ({last['base']} -> {last['version']}): {last['reviewed']} rows reviewed, "
            f"{last['relabelled']} relabelled, {last['removed']} removed, {last['moved']} moved, "
            f"{last['blocked']} blocked; x votes per annotator: {per or 'none'}"
        )
    if report["top_pairs"]:
        out.append("")
        out.append(
            "class pairs people disagree on most (agree on a rule, write it in the label book):"
        )
        out += [f"  {p['a']:>5} / {p['b']:<5} {p['count']}" for p in report["top_pairs"]]
    mvc = report["matrices"]["model_vs_consensus"]["top"]
    if mvc:
        out.append("model vs consensus (consensus -> model prediction):")
        out += [f"  {p['a']:>5} -> {p['b']:<5} {p['count']}" for p in mvc[:5]]
    out += _describe_model(report)
    out.append("")
    out.append("annotators:")
    for a, s in report["annotator_stats"].items():
        q = s["crowdlab_quality"]
        out.append(
            f"  {a}: {s['votes']} labels, {s['removes']} x (remove), {s['invalid']} invalid; agreement"
            f" with others {_pct(s['agreement_with_others'])}, with consensus"
            f" {_pct(s['agreement_with_consensus'])}, with the given label"
            f" {_pct(s['agreement_with_label'])}"
            + (f"; crowdlab quality {q:.2f}" if q is not None else "")
        )
    cl = report["crowdlab"]
    if not cl["used"]:
        out.append(f"  (crowdlab quality unavailable: {cl['reason']})")
    out.append("")
    out.append(
        "still unreviewed in the sheet's review order: "
        + ", ".join(
            dict.fromkeys(f"{u['unreviewed']} of the top {u['rows']}" for u in report["unreviewed"])
        )
    )
    aa = report["matrices"]["annotator_vs_annotator"]["matrix"]
    if any(any(r) for r in aa):
        out.append("")
        out.append("annotator vs annotator (both orders counted):")
        out += ["  " + line for line in _table(aa, classes, "ann", "ann")]
    return "\n".join(out)


def _groups(groups: Sequence[Mapping], n: int = 6) -> str:
    return ", ".join(
        f"{g['group']} {g['accuracy']:.0%} ({g['correct']}/{g['n']})" + (" *" if g["weak"] else "")
        for g in groups[:n]
    )


def _describe_model(report: Mapping) -> list[str]:
    """The model-side sections: model vs labels, weak groups, style clusters."""
    out: list[str] = []
    conf = report.get("label_confusion")
    if conf and conf["top"]:
        out += [
            "",
            f"model vs labels (label -> out-of-fold prediction; {conf['wrong']} of "
            f"{conf['images']} images disagree):",
        ]
        out += [
            f"  {p['a']:>5} -> {p['b']:<5} {p['count']}  e.g. {', '.join(p['examples'])}"
            for p in conf["top"]
        ]
    weak = report.get("weak")
    if weak:
        out += [
            "",
            f"where the model is weak, on the fixed evaluation set ({weak['n']} images: the first "
            f"version's val still in val; {weak['predictions']} predictions; "
            f"{weak['accuracy']:.1%} overall; * = weakest):",
            "  per class: " + _groups(weak["per_class"], len(weak["per_class"])),
        ]
        if weak["per_cluster"]:
            out.append("  per style cluster: " + _groups(weak["per_cluster"]))
        for kind in ("per_class", "per_cluster"):
            for g in weak[kind]:
                if g["weak"] and g["wrong"]:
                    name = "class" if kind == "per_class" else "cluster"
                    shown_ = ", ".join(f"{w['id']} ({w['label']}->{w['pred']})" for w in g["wrong"])
                    out.append(f"    {name} {g['group']} wrong: {shown_}")
    clusters = report.get("clusters") or []
    if clusters:
        out += ["", "style clusters (images in train / val, verdict, most typical images):"]
        out += [
            f"  {c['cluster']:>3}: {c['train']:>4} train / {c['val']:>4} val"
            + (f" ({c['split']})" if c["split"] else "")
            + f"  e.g. {', '.join(c['examples'])}"
            for c in clusters
        ]
    return out
