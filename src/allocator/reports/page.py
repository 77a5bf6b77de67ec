"""The page machinery both reports share: jinja2 templates, plotly figures, writing.

A page is rendered from a template under ``allocator/reports/templates`` with
autoescaping on; plotly.js is inlined once in the page's head (no network needed to open
it) and each figure is a ``<div>`` with its data, without a script of its own.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

__all__ = ["PALETTE", "figure_div", "money", "render_page", "write_page"]

PALETTE = (
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
    "#393b79",
    "#ad494a",
)
"""Colours of the creatives, in order (12 distinct; repeats after that)."""

_CONFIG = {"displaylogo": False, "responsive": True}


def figure_div(fig: Any, div_id: str) -> str:
    """A plotly figure as an HTML ``<div>`` (plotly.js not included: the page has it)."""
    fig.update_layout(
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
        height=420,
    )
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)
    return re.sub(r"\s{2,}", " ", html)  # plotly's indentation (JSON has no runs of blanks)


def money(x: float | None, digits: int = 2) -> str:
    """A number with thousands separators, or ``-`` when missing or not finite."""
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:,.{digits}f}"


def render_page(template: str, **context: Any) -> str:
    """Render ``template`` with ``context`` (autoescaped) and plotly.js inlined once."""
    import jinja2
    from plotly.offline import get_plotlyjs

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("allocator.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    return env.get_template(template).render(plotly_js=get_plotlyjs(), **context)


def write_page(path: Path, html: str) -> Path:
    """Write ``html`` to ``path`` (parents created) atomically; the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
