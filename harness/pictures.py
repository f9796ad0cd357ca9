"""Pictures of a failing result: expected, actual and their difference (matplotlib, PNG).

Used by the HTML report for 1-D and 2-D cases, from the slice the runner keeps of a failing row.
The title is wrapped to the figure's width at the separators of a row key (`::`, `/`, `,`, `[`)
and the panels are placed below its lines, by a fixed layout (matplotlib's layout engines measure
every text of the figure, twice the time of the rest), so the title, the panel titles, an axis'
offset text and the colour bars never overlap (`tests/test_report.py` checks it on a long key).
"""

from __future__ import annotations

import base64
import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
import numpy as np  # noqa: E402


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


TITLE_SIZE = 9
LINE_SPACING = 1.3  # a title line's height, in font sizes
MARGIN, PANEL_TITLE, OFFSET_LINE = 0.06, 0.3, 0.2  # inches: above the title; a panel's title; an axis offset
PANEL_WIDTH, PANEL_HEIGHT = 2.9, 2.6  # inches


def wrap_title(title: str, width: int, *, tail: str = "") -> str:
    """`title` in lines of at most `width` characters, broken after `::`, `/`, `,` or a space, or
    before `[`, where it can be (a token longer than a line is cut); `tail` is kept in one piece."""
    tokens = [t for t in re.split(r"(?<=::)|(?<=[/, ])|(?=\[)", title) if t] + ([f" {tail}"] if tail else [])
    lines, line = [], ""
    for token in tokens:
        while len(token) > width:  # a token longer than a line: cut it
            if line:
                lines.append(line.rstrip())
                line = ""
            lines.append(token[:width])
            token = token[width:]
        if line and len(line) + len(token.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += token if line else token.lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def difference_figure(plot: dict, *, title: str) -> plt.Figure:
    """The figure of `difference_png` (the caller closes it)."""
    expected = np.asarray(plot["expected"], dtype=np.float64)
    actual = np.asarray(plot["actual"], dtype=np.float64)
    same = expected.shape == actual.shape
    panels = [("expected", expected), ("actual", actual)]
    if same:
        with np.errstate(invalid="ignore"):  # inf - inf where both overflow: NaN, left blank
            panels.append(("actual - expected", actual - expected))
    figure, axes = plt.subplots(1, len(panels), figsize=(PANEL_WIDTH * len(panels), PANEL_HEIGHT), squeeze=False)
    where = plot.get("where", "")
    # About 0.6 em per character of the title font: the characters that fit across the figure.
    fits = int(PANEL_WIDTH * len(panels) * 72 / (0.6 * TITLE_SIZE))
    # parse_math=False: a `$` in a case id is text, not the start of a TeX formula matplotlib would parse
    wrapped = wrap_title(title, fits, tail=f"({where})" if where else "")
    figure.suptitle(wrapped, fontsize=TITLE_SIZE, parse_math=False, y=1 - MARGIN / PANEL_HEIGHT, va="top")
    # A fixed layout, worked out from the title's lines (matplotlib's layout engines measure every
    # text of the figure and took most of a picture's time): the title, then the panels' titles.
    title_height = (wrapped.count("\n") + 1) * TITLE_SIZE * LINE_SPACING / 72
    offset = OFFSET_LINE if expected.ndim == 1 else 0.0  # a line plot's axis may carry `1e-7+1.2e4` over it
    top = 1 - (MARGIN + title_height + PANEL_TITLE + offset) / PANEL_HEIGHT
    figure.subplots_adjust(left=0.55 / figure.get_figwidth(), right=1 - 0.6 / figure.get_figwidth(), bottom=0.13,
                           top=top, wspace=0.55)
    finite = np.concatenate([a[np.isfinite(a)].ravel() for _, a in panels[:2]] + [np.zeros(1)])
    low, high = float(finite.min()), float(finite.max())
    for ax, (name, values) in zip(axes[0], panels):
        ax.set_title(name, fontsize=9)
        if values.ndim == 1:
            ax.plot(values, marker=".")
            ax.grid(alpha=0.3)
        else:
            diff = name.startswith("actual -")
            limit = float(np.nanmax(np.abs(values[np.isfinite(values)]), initial=1e-12)) if diff else None
            image = ax.imshow(values, cmap="RdBu_r" if diff else "viridis",
                              vmin=-limit if diff else low, vmax=limit if diff else high)
            figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
            ax.set_xticks([])
            ax.set_yticks([])
    return figure


def difference_png(plot: dict, *, title: str) -> str:
    """Base64 PNG with three panels (two when the shapes differ): expected, actual, difference."""
    return _png(difference_figure(plot, title=title))
