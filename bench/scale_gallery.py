"""One step of ``bench/scale.py``: what `wikiart serve --classifier RUN/model.pt --gallery DATA
--gallery-per-style 0` does before it listens (the classifier loaded, every painting of DATA
embedded, its map projected and drawn), timed, with the map saved as OUT/map.png and the figures
in OUT/gallery.json.

    python bench/scale_gallery.py --run RUN --data SPLIT --out OUT [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from wikiart.device import resolve_device
from wikiart.serve.models import find_models
from wikiart.serve.tabs import Server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", required=True, help="a classifier run folder")
    ap.add_argument("--data", required=True, help="the gallery: a split folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = find_models(classifier=Path(args.run) / "model.pt", gallery=args.data)
    t0 = time.perf_counter()
    server = Server(spec, device=resolve_device(args.device), gallery_per_style=0)
    seconds = time.perf_counter() - t0
    assert server.gallery is not None and server.map is not None
    server.map.image.save(out / "map.png")
    mapped = int(np.isfinite(server.gallery.xy).all(axis=1).sum())
    figures = {
        "paintings": len(server.gallery),
        "mapped": mapped,
        "styles": len(server.gallery.styles),
        "seconds": round(seconds, 1),
        "map_size": list(server.map.image.size),
    }
    (out / "gallery.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
