"""Real WikiArt paintings of styles beyond wikiart-sample, for measurement only: extracts a
``train/<Style>/``, ``test/<Style>/`` folder from a local git copy of the public repository
``eliogrande/TheEndlessTuning_WikiArt224`` (7 styles, 4,000 paintings each, 224 px, letterboxed
with black pads), cropping the pads off (else a judge learns the pads, not the style).

Its class map (``class_dict`` in its ``Endless_Tuning.py``): 0 Art Nouveau Modern, 1 Baroque,
2 Expressionism, 3 Impressionism, 4 Post-Impressionism, 5 Romanticism, 6 Symbolism. Five are not
in wikiart-sample. The paintings are WikiArt's (non-commercial research use); never copy them
into this repository.

    python bench/endless_tuning_data.py --repo MIRROR.git --out ~/et --train 300 --test 100 \\
        --styles Art_Nouveau_Modern,Baroque,Impressionism

Paintings are taken in the repository's numeric order: the first ``--train`` of a style go to
train/, the next ``--test`` to test/ (disjoint; the same command gives the same folders).
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = {
    "0": "Art_Nouveau_Modern",
    "1": "Baroque",
    "2": "Expressionism",
    "3": "Impressionism",
    "4": "Post_Impressionism",
    "5": "Romanticism",
    "6": "Symbolism",
}
#: A row or column of the letterbox: nearly black and nearly flat (JPEG noise).
PAD_MEAN, PAD_STD = 10.0, 6.0


def crop_pads(image: Image.Image) -> Image.Image:
    """``image`` without the black bands along its edges (only whole rows/columns that are
    nearly black and flat, contiguous from an edge; a dark painting keeps its dark rows)."""
    a = np.asarray(image.convert("L"), dtype=np.float32)

    def inner(profile_mean: np.ndarray, profile_std: np.ndarray) -> tuple[int, int]:
        pad = (profile_mean < PAD_MEAN) & (profile_std < PAD_STD)
        lo, hi = 0, len(pad)
        while lo < hi and pad[lo]:
            lo += 1
        while hi > lo and pad[hi - 1]:
            hi -= 1
        return lo, hi

    top, bottom = inner(a.mean(axis=1), a.std(axis=1))
    left, right = inner(a.mean(axis=0), a.std(axis=0))
    if bottom - top < 16 or right - left < 16:  # all black: leave it
        return image
    return image.crop((left, top, right, bottom))


def list_files(git_dir: Path, label: str) -> list[str]:
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", "HEAD", f"WikiArt/{label}/"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return sorted(out, key=lambda p: int(re.sub(r"\D", "", Path(p).stem) or 0))


def read_blobs(git_dir: Path, paths: list[str]) -> list[bytes]:
    """The files' bytes at HEAD, through one ``git cat-file --batch``."""
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        input="".join(f"HEAD:{p}\n" for p in paths).encode(), check=True, capture_output=True,
    )  # fmt: skip
    data, blobs, pos = proc.stdout, [], 0
    for _ in paths:
        header_end = data.index(b"\n", pos)
        size = int(data[pos:header_end].split()[2])
        blobs.append(data[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1
    return blobs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repo", required=True, help="the repository's git directory (a mirror)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--styles", default=",".join(CLASSES.values()))
    ap.add_argument("--train", type=int, default=300)
    ap.add_argument("--test", type=int, default=100)
    args = ap.parse_args()
    wanted = args.styles.split(",")
    unknown = set(wanted) - set(CLASSES.values())
    if unknown:
        raise SystemExit(f"unknown styles {sorted(unknown)}; known: {list(CLASSES.values())}")
    out, git_dir = Path(args.out).expanduser(), Path(args.repo).expanduser()
    for label, style in CLASSES.items():
        if style not in wanted:
            continue
        files = list_files(git_dir, label)[: args.train + args.test]
        cropped = 0
        for j, (path, blob) in enumerate(zip(files, read_blobs(git_dir, files), strict=True)):
            split = "train" if j < args.train else "test"
            image = Image.open(io.BytesIO(blob)).convert("RGB")
            inner = crop_pads(image)
            cropped += inner.size != image.size
            dest = out / split / style / f"et{label}_{Path(path).stem}.jpg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            inner.save(dest, quality=95)
        print(f"{style}: {len(files)} paintings ({cropped} had pads cropped) -> {out}")


if __name__ == "__main__":
    main()
