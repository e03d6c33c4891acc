"""What every plot module shares: the palette and the ``ax=None`` convention."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLORS = ("#1f4e79", "#c55a11", "#548235", "#7030a0", "#bf9000")


def axes_or_current(ax: Axes | None) -> Axes:
    """``ax``, or pyplot's current axes (pyplot is imported only then)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()
