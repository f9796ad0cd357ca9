"""Pictures of a failing result: expected, actual and their difference (matplotlib, PNG).

Used by the HTML report for 1-D and 2-D cases, from the slice the runner keeps of a failing row.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
import numpy as np  # noqa: E402


def _png(figure: plt.Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def difference_png(plot: dict, *, title: str) -> str:
    """Base64 PNG with three panels (two when the shapes differ): expected, actual, difference."""
    expected = np.asarray(plot["expected"], dtype=np.float64)
    actual = np.asarray(plot["actual"], dtype=np.float64)
    same = expected.shape == actual.shape
    panels = [("expected", expected), ("actual", actual)]
    if same:
        with np.errstate(invalid="ignore"):  # inf - inf where both overflow: NaN, left blank
            panels.append(("actual - expected", actual - expected))
    figure, axes = plt.subplots(1, len(panels), figsize=(2.9 * len(panels), 2.6), squeeze=False)
    figure.suptitle(f"{title} ({plot.get('where', '')})", fontsize=9)
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
    return _png(figure)
