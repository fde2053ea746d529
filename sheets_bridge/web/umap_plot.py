"""The Bokeh figure of the UMAP view: one point per image, colour mappers the page switches between.

The page (``static/umap.js``) finds the models by name: the renderer ``points``, its data source
``points_source`` and one ``CategoricalColorMapper`` per colour option, named ``cmap_<option>``.
Thumbnails are not in the document: the hover loads ``/images/<id>?thumb=1`` when it opens.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sheets_bridge.web.data import COLOUR_OPTIONS

# Fixed colours where the values have a meaning; palettes for the open-ended ones.
_GREY = "#b0b0b0"
_FIXED: dict[str, dict[str, str]] = {
    "correct": {"yes": "#2ca02c", "no": "#d62728", "no prediction": _GREY},
    "subset": {
        "train": "#1f77b4",
        "val": "#ff7f0e",
        "label_book": "#9467bd",
        "test": "#8c564b",
        "removed": _GREY,
    },
    "agreement": {
        "all agree": "#2ca02c",
        "disagree": "#d62728",
        "one vote": "#17becf",
        "no votes": _GREY,
    },
    "decision": {
        "none": _GREY,
        "keep": "#2ca02c",
        "relabel": "#ff7f0e",
        "remove": "#d62728",
        "conflict": "#9467bd",
        "blocked": "#000000",
        "invalid": "#000000",
    },
}
_CATEGORY10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_EXTRA = (
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
    "#393b79",
)
_BASE = _CATEGORY10 + _EXTRA
_GOLDEN = 0.618033988749895  # hue step: consecutive hues land far apart on the colour wheel


def palette(n: int) -> list[str]:
    """``n`` distinct colours: the 20 Tableau colours, then generated ones (hues a golden-ratio
    step apart, saturation and lightness cycling), none of them the grey kept for "none"."""
    import colorsys

    out = list(_BASE[:n])
    seen = {*out, _GREY}
    k = 0
    while len(out) < n:
        hue = (k * _GOLDEN) % 1.0
        light = (0.35, 0.55, 0.45, 0.65)[(k // 7) % 4]
        sat = (0.85, 0.6, 0.95)[(k // 3) % 3]
        r, g, b = colorsys.hls_to_rgb(hue, light, sat)
        colour = f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"
        k += 1
        if colour not in seen:
            seen.add(colour)
            out.append(colour)
    return out


#: Columns sent to the browser (the hover, colours and actions use them).
COLUMNS = (
    "id",
    "x",
    "y",
    "label",
    "pred",
    "confidence",
    "subset",
    "issues",
    "issue",
    "cluster",
    "correct",
    "agreement",
    "decision",
    "override",
    "note",
)

# The tooltip lives in Bokeh's shadow DOM: the page's stylesheet does not reach it, so styles are inline.
TOOLTIP = """
<div style="display:flex;gap:8px;align-items:flex-start;max-width:340px">
  <img src="/images/@x{idurl}?thumb=1" alt="" width="96" height="96"
       style="width:96px;height:96px;object-fit:contain;background:#fff;border:1px solid #ddd;image-rendering:pixelated">
  <div style="font-size:12px;line-height:1.45">
    <b>@id</b><br>
    label <b>@label</b> &middot; pred <b>@pred</b> (@confidence{0.00})<br>
    @subset<br><span style="color:#b26a00">@issues</span>
  </div>
</div>
"""


def legends(points: pd.DataFrame, classes: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """For each colour option, the (value, colour) pairs in legend order."""
    out: dict[str, list[tuple[str, str]]] = {}
    class_colours = dict(zip(classes, palette(len(classes)), strict=True))
    for option, _title in COLOUR_OPTIONS:
        values = points[option].astype(str)
        present = list(dict.fromkeys(sorted(values.unique())))
        if option in ("label", "pred"):
            order = [c for c in classes if c in present] + [
                v for v in present if v not in class_colours
            ]
            pairs = [(v, class_colours.get(v, _GREY)) for v in order]
        elif option in _FIXED:
            fixed = _FIXED[option]
            order = [v for v in fixed if v in present] + [v for v in present if v not in fixed]
            pairs = [(v, fixed.get(v, _GREY)) for v in order]
        else:  # issue types and clusters: most frequent first, "none" grey
            counts = values.value_counts()
            order = [v for v in counts.index if v != "none"] + (
                ["none"] if "none" in present else []
            )
            colours = palette(len(order))
            pairs = [(v, _GREY if v == "none" else c) for v, c in zip(order, colours, strict=True)]
        out[option] = pairs
    return out


def _padded(values: pd.Series, pad: float = 0.04):
    from bokeh.models import Range1d

    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    margin = (hi - lo) * pad or 1.0
    return Range1d(lo - margin, hi + margin)


def figure_components(
    points: pd.DataFrame, classes: tuple[str, ...], colour: str = "label"
) -> tuple[str, str, dict, dict]:
    """(script, div, legends, data) for the page; ``colour`` is the option shown first.

    The points are not in Bokeh's document: ``data`` (column -> list) goes into the page as plain
    JSON and the page fills the source with it. Bokeh's own serialiser takes about half a second
    for 10,000 points with a dozen text columns; ``json.dumps`` a few milliseconds.
    """
    from bokeh.embed import components
    from bokeh.models import (
        BoxSelectTool,
        CategoricalColorMapper,
        ColumnDataSource,
        CustomJSHover,
        HoverTool,
        LassoSelectTool,
        PanTool,
        ResetTool,
        WheelZoomTool,
    )
    from bokeh.plotting import figure

    data = {c: points[c].astype(str).tolist() for c in COLUMNS if c not in ("x", "y", "confidence")}
    for c in ("x", "y", "confidence"):  # 4 decimals: plenty for a 2-D map, a third of the bytes
        data[c] = [None if v != v else v for v in points[c].astype(float).round(4).tolist()]
    source = ColumnDataSource({c: [] for c in COLUMNS}, name="points_source")
    legend = legends(points, classes)
    mappers = {
        option: CategoricalColorMapper(
            factors=[v for v, _ in pairs] or ["none"],
            palette=[c for _, c in pairs] or [_GREY],
            nan_color=_GREY,
            name=f"cmap_{option}",
        )
        for option, pairs in legend.items()
    }
    lasso, box = LassoSelectTool(), BoxSelectTool()
    wheel = WheelZoomTool()
    # The points arrive after the plot is built (see above), so the ranges are fixed here from the
    # data rather than left to auto-ranging over an empty source.
    fig = figure(
        x_range=_padded(points["x"]),
        y_range=_padded(points["y"]),
        sizing_mode="stretch_both",
        tools=[PanTool(), wheel, box, lasso, ResetTool()],
        active_drag=lasso,
        active_scroll=wheel,
        toolbar_location="above",
        output_backend="canvas",
    )
    fig.axis.visible = False
    fig.grid.visible = False
    fig.outline_line_color = None
    fill = {"field": colour, "transform": mappers[colour]}
    renderer = fig.scatter(
        "x",
        "y",
        source=source,
        size=6,
        fill_color=fill,
        line_color=fill,
        fill_alpha=0.75,
        line_alpha=0.9,
        nonselection_fill_alpha=0.12,
        nonselection_line_alpha=0.12,
        # An explicit selection glyph (not Bokeh's "auto" one, which keeps the colours it was
        # built with): the page switches its colour mapper with the others.
        selection_fill_alpha=0.9,
        selection_line_alpha=1.0,
        name="points",
    )
    # The other mappers are not attached to a glyph yet; keeping them on the figure puts them in the
    # document so the page can find them by name.
    fig.tags = list(mappers.values())
    idurl = CustomJSHover(
        args={"source": source},
        code="return encodeURIComponent(source.data.id[special_vars.index])",
    )
    fig.add_tools(
        HoverTool(
            renderers=[renderer], tooltips=TOOLTIP, formatters={"@x": idurl}, attachment="right"
        )
    )
    script, div = components(fig)
    return script, div, legend, data
