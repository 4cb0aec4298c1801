"""One way to ask any trained generator for images of a style: a `train diffusion` checkpoint, a
LoRA run on one (its ``model.pt`` or folder), or a Hugging Face pipeline with or without a LoRA
run; and `wikiart sample`, which writes N images per style and a labelled ``grid.png``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from wikiart.checkpoints import checkpoint_kind, load_model
from wikiart.device import resolve_device
from wikiart.diffusion.common import read_lora_info, to_uint8
from wikiart.diffusion.sampling import Guided, denoise, model_predict
from wikiart.diffusion.settings import KIND, LORA_KIND
from wikiart.errors import UnknownStyleError, WikiartError
from wikiart.files import save_image
from wikiart.models.diffusion import require_diffusers

#: The row name of an unconditional model's samples.
ANY_STYLE = "(no style)"

# (style, n, seed, guidance, steps, sampler, batch_size) -> uint8 images [n, 3, H, W]
Draw = Callable[[str, int, int, float, int, str, int], torch.Tensor]


@dataclass
class Generator:
    """A trained generator: the styles it can be asked for and how to draw images of one."""

    styles: list[str]
    image_size: int
    draw: Draw
    describe: str
    defaults: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    any_style: bool = False  # a text-to-image pipeline: any style name makes a caption

    def images(
        self,
        style: str,
        n: int,
        *,
        seed: int = 0,
        guidance: float | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        batch_size: int = 64,
    ) -> torch.Tensor:
        """``n`` uint8 images ``[n, 3, H, W]`` of ``style``; the same seed, the same images."""
        if not self.any_style and style not in self.styles:
            raise UnknownStyleError(
                f"unknown style {style!r}; this generator knows: {', '.join(self.styles)}"
            )
        if n < 1:
            raise WikiartError(f"the number of images must be >= 1, got {n}")
        d = self.defaults
        return self.draw(
            style,
            n,
            seed,
            float(d.get("guidance", 3.0) if guidance is None else guidance),
            int(d.get("steps", 25) if steps is None else steps),
            str(d.get("sampler", "ddim") if sampler is None else sampler),
            batch_size,
        )


def _own_generator(
    model: torch.nn.Module,
    payload: dict[str, Any],
    device: torch.device,
    style_classes: dict[str, int] | None = None,
    base_off: Callable[[], Any] | None = None,
) -> Generator:
    """A `StyleDiffusion` (possibly adapted): ``style_classes`` maps requested styles to its
    classes; a style mapped to "no style" on an adapted model is guided against the base
    (``base_off`` is a context manager switching the adapters off)."""
    net = model.model if hasattr(model, "inner") else model  # AdapterOnly -> StyleDiffusion
    null = net.null_class
    if style_classes is None:
        style_classes = {s: i for i, s in enumerate(net.style_names)} or {ANY_STYLE: null}
    predict = model_predict(net)
    uncond = None
    if base_off is not None:

        def uncond(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            with base_off():
                return net(x, t, y)

    def draw(
        style: str, n: int, seed: int, g: float, steps: int, sampler: str, bs: int
    ) -> torch.Tensor:
        label = style_classes[style]
        via_base = uncond is not None and label == null
        guided = Guided(predict, null, uncond if via_base else None)
        if label == null and not via_base:
            g = 1.0  # nothing to guide against: "no style" is the unconditional prediction
        offset = sorted(style_classes).index(style) * 100_000
        x = denoise(
            guided,
            [label] * n,
            image_size=net.image_size,
            scheduler_config=net.scheduler_config,
            sampler=sampler,
            steps=steps,
            guidance=g,
            seed=seed,
            device=device,
            batch_size=bs,
            offset=offset,
        )
        return to_uint8(x)

    sampling = payload.get("sampling") or {}
    return Generator(
        list(style_classes),
        net.image_size,
        draw,
        f"{payload.get('kind')} {net.image_size}px",
        defaults=dict(sampling),
    )


def open_generator(
    checkpoint: str | os.PathLike[str] | None = None,
    *,
    base: str | None = None,
    lora: str | os.PathLike[str] | None = None,
    device: torch.device | str = "auto",
) -> Generator:
    """The generator a checkpoint (``diffusion`` or ``lora`` kind), or a base (a pipeline or a
    diffusion checkpoint) with an optional LoRA run, holds."""
    require_diffusers()
    dev = resolve_device(device) if isinstance(device, str) else device
    if checkpoint is not None and base is not None:
        raise WikiartError("pass either --checkpoint or --base, not both")
    if checkpoint is None and base is None:
        raise WikiartError("nothing to sample: pass --checkpoint RUN/model.pt or --base BASE")
    if checkpoint is not None:
        if Path(checkpoint).is_dir():
            return _from_lora_run(checkpoint, dev)
        kind = checkpoint_kind(checkpoint)
        if kind == KIND:
            _, model, payload = load_model(checkpoint, dev, kind=KIND)
            return _own_generator(model, payload, dev)
        if kind == LORA_KIND:
            return _from_lora_run(checkpoint, dev)
        raise WikiartError(f"{checkpoint} is a {kind!r} checkpoint, not a diffusion or LoRA run")
    assert base is not None
    if lora is not None:
        folder, _ = read_lora_info(lora)
        return _from_lora_run(folder, dev, base=base)
    from wikiart.diffusion.lora import is_wikiart_checkpoint

    if is_wikiart_checkpoint(base):
        return open_generator(base, device=dev)
    return _pipeline_generator(base, None, dev)


def _from_lora_run(
    run: str | os.PathLike[str], device: torch.device, base: str | None = None
) -> Generator:
    """A LoRA run (folder, ``model.pt`` or ``lora.json``) on its base, or on ``base``."""
    folder, info = read_lora_info(run)
    base = base or info["base"]
    if info.get("base_type") == "diffusers":
        return _pipeline_generator(str(base), folder, device)
    from wikiart.diffusion.lora import load_adapted

    model, payload, style_classes = load_adapted(folder, info, device, base=base)
    from wikiart.diffusion.common import set_adapters_enabled

    @contextlib.contextmanager
    def base_off() -> Iterator[None]:  # the base alone: adapters off for one prediction
        set_adapters_enabled(model.inner, False)
        try:
            yield
        finally:
            set_adapters_enabled(model.inner, True)

    gen = _own_generator(model, payload, device, style_classes, base_off=base_off)
    gen.describe = f"LoRA r={info.get('rank')} on {Path(str(base)).name}"
    gen.info = info
    return gen


def _pipeline_generator(base: str, lora: Path | None, device: torch.device) -> Generator:
    """A Hugging Face text-to-image pipeline (with a LoRA run's adapter and styles), loaded
    once and kept for every request."""
    from wikiart.diffusion.pipeline import captions_for, generate, native_size, open_pipeline

    pipe, info, folder = open_pipeline(base, lora, device)
    styles = list(info.get("styles") or [])
    size = int(info.get("image_size") or native_size(pipe))

    def draw(
        style: str, n: int, seed: int, g: float, steps: int, sampler: str, bs: int
    ) -> torch.Tensor:
        captions = captions_for(info, [style], folder)
        return generate(pipe, captions, n, seed, g, steps, sampler, bs, image_size=size)[style]

    gen = Generator(styles, size, draw, f"pipeline {base}", info=info, any_style=not styles)
    gen.defaults = {k: info[k] for k in ("guidance", "sampler") if k in info}
    if "sample_steps" in info:
        gen.defaults["steps"] = info["sample_steps"]
    return gen


def _hwc(img: torch.Tensor) -> np.ndarray:
    return img.permute(1, 2, 0).numpy()


def write_sample_grid(
    gen: Generator,
    styles: Sequence[str],
    path: str | os.PathLike[str],
    *,
    n: int = 8,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    sampler: str | None = None,
    batch_size: int = 64,
    images: dict[str, torch.Tensor] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """A labelled grid, one row of ``n`` samples per style (drawn unless ``images`` are given);
    returns the images. ``labels``: a row label per style (e.g. with the judge's share)."""
    from wikiart.report.plots import image_grid

    styles = list(styles) or list(gen.styles)
    if images is None:
        images = {
            s: gen.images(
                s, n, seed=seed, guidance=guidance, steps=steps, sampler=sampler,
                batch_size=batch_size,
            )
            for s in styles
        }  # fmt: skip
    rows = [((labels or {}).get(s, s), [_hwc(im) for im in images[s][:n]]) for s in styles]
    image_grid(rows, path, cell=1.0)
    return images


def sample_command(
    out: str | os.PathLike[str],
    styles: Sequence[str] | None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    base: str | None = None,
    lora: str | os.PathLike[str] | None = None,
    n: int = 8,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    sampler: str | None = None,
    device: str = "auto",
    batch_size: int = 64,
) -> list[Path]:
    """`wikiart sample`: ``n`` PNGs per style (``<Style>/<seed>_<j>.png``) and ``grid.png`` in
    ``out``; returns the images' paths."""
    gen = open_generator(checkpoint, base=base, lora=lora, device=device)
    styles = list(styles or [])
    if not styles:
        if gen.styles == [ANY_STYLE]:
            styles = [ANY_STYLE]
        else:
            known = ", ".join(gen.styles) or "any name (a pipeline)"
            raise WikiartError(f"pass --style NAME...; this generator knows: {known}")
    for s in styles:
        if not gen.any_style and s not in gen.styles:
            raise UnknownStyleError(
                f"unknown style {s!r}; this generator knows: {', '.join(gen.styles)}"
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = {
        s: gen.images(
            s, n, seed=seed, guidance=guidance, steps=steps, sampler=sampler,
            batch_size=batch_size,
        )
        for s in styles
    }  # fmt: skip
    paths = []
    for s, imgs in images.items():
        folder = out / ("no_style" if s == ANY_STYLE else s)
        folder.mkdir(exist_ok=True)
        for j, img in enumerate(imgs):
            path = folder / f"seed{seed}_{j:03d}.png"
            save_image(Image.fromarray(_hwc(img)), path)
            paths.append(path)
    write_sample_grid(gen, styles, out / "grid.png", n=n, images=images)
    return paths
