"""The Explore tab's map: the gallery's 2-D projection drawn as a picture, one colour per style,
with each point's pixel position kept so that a click on the picture finds its painting."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: The map's size in inches at ``DPI``.
FIGSIZE = (9.0, 6.5)
DPI = 100


@dataclass
class GalleryMap:
    """The rendered map and where each point landed on it (pixels from the top-left)."""

    image: Image.Image
    pixels: np.ndarray  # N x 2 (x, y)

    def point_at(self, x: float, y: float, radius: float = 20.0) -> int | None:
        """The painting drawn nearest to pixel ``(x, y)``, if one lies within ``radius``."""
        d = np.hypot(self.pixels[:, 0] - x, self.pixels[:, 1] - y)
        if not np.isfinite(d).any():  # no points, or none drawn
            return None
        i = int(np.nanargmin(d))
        return i if d[i] <= radius else None


def draw_map(xy: np.ndarray, styles: list[str], labels: list[str]) -> GalleryMap:
    """``xy[i]`` drawn in the colour of style ``labels[i]`` (legend: ``styles``); a NaN point
    (one the map leaves out) is not drawn and cannot be clicked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20" if len(styles) > 10 else "tab10")
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    try:
        labels_arr = np.array(labels)
        drawn = np.isfinite(xy).all(axis=1)
        for j, style in enumerate(styles):
            sel = (labels_arr == style) & drawn
            ax.scatter(
                xy[sel, 0], xy[sel, 1], s=22, color=cmap(j % cmap.N), label=style,
                edgecolors="white", linewidths=0.4,
            )  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
        title = "The gallery as the classifier sees it (t-SNE of its embeddings)"
        if not drawn.all():
            title += f"\n{int(drawn.sum()):,} of its {len(drawn):,} paintings shown"
        ax.set_title(title)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        fig.tight_layout()
        fig.canvas.draw()
        width, height = fig.canvas.get_width_height()
        disp = ax.transData.transform(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
        pixels = np.stack([disp[:, 0], height - disp[:, 1]], axis=1)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
    finally:
        plt.close(fig)
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    # savefig and the canvas agree on size at the same dpi without bbox_inches; rescale if not
    sx, sy = image.width / width, image.height / height
    return GalleryMap(image, pixels * np.array([sx, sy]))
