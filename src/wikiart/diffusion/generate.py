"""A `Generator` from any trained diffusion model: a `train diffusion` checkpoint, a LoRA run on
one (its ``model.pt`` or folder), or a Hugging Face pipeline with or without a LoRA run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from wikiart.builtins import BUILTIN, checkpoint_path, is_builtin
from wikiart.checkpoints import checkpoint_kind, load_model
from wikiart.device import resolve_device
from wikiart.diffusion.adapters import (
    base_checkpoint,
    is_wikiart_checkpoint,
    load_adapted,
    read_lora_info,
    set_adapters_enabled,
)
from wikiart.diffusion.sampling import Guided, denoise, model_predict
from wikiart.diffusion.settings import KIND, LORA_KIND
from wikiart.errors import WikiartError
from wikiart.eval.generator import Generator, SampleOptions
from wikiart.imaging import signed_to_uint8
from wikiart.models.diffusion import require_diffusers

#: The row name of an unconditional model's samples.
ANY_STYLE = "(no style)"


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
    place = {s: i for i, s in enumerate(sorted(style_classes))}  # a style's draws start here
    uncond = None
    if base_off is not None:

        def uncond(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            with base_off():
                return net(x, t, y)

    def run(guided: Guided, styles: list[str], options: SampleOptions) -> list[torch.Tensor]:
        """``options.n`` images of each of ``styles`` in shared batches, each image from the
        noise of its own draw (the style's place in the name order, then its index)."""
        n = options.n
        x = denoise(
            guided,
            [style_classes[s] for s in styles for _ in range(n)],
            options,
            shape=net.sample_shape,
            scheduler_config=net.scheduler_config,
            device=device,
            draws=[place[s] * 100_000 + j for s in styles for j in range(n)],
        )
        return [signed_to_uint8(net.decode(part.to(device)).cpu()) for part in x.split(n)]

    def draw(style: str, options: SampleOptions) -> torch.Tensor:
        label = style_classes[style]
        via_base = uncond is not None and label == null
        if label == null and not via_base:
            # nothing to guide against: "no style" is the unconditional prediction
            options = replace(options, guidance=1.0)
        return run(Guided(predict, null, uncond if via_base else None), [style], options)[0]

    def draw_styles(styles: list[str], options: SampleOptions) -> dict[str, torch.Tensor]:
        """Styles guided by their own class share batches; the others (a style drawn under "no
        style") are drawn alone."""
        together = [s for s in styles if style_classes[s] != null]
        out = {s: draw(s, options) for s in styles if s not in together}
        if together:
            out |= dict(zip(together, run(Guided(predict, null), together, options), strict=True))
        return {s: out[s] for s in styles}

    sampling = payload.get("sampling") or {}
    return Generator(
        list(style_classes),
        net.image_size,
        draw,
        f"{payload.get('kind')} {net.image_size}px",
        defaults=dict(sampling),
        draw_styles=draw_styles,
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
        checkpoint = BUILTIN  # the packaged base
    if checkpoint is not None and (is_builtin(checkpoint) or not Path(checkpoint).is_dir()):
        checkpoint = checkpoint_path(checkpoint, KIND, "diffusion checkpoint")
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
    if is_wikiart_checkpoint(base):
        return open_generator(base_checkpoint(base), device=dev)
    return _pipeline_generator(base, None, dev)


def null_samples(
    base: str | os.PathLike[str], options: SampleOptions, device: torch.device
) -> torch.Tensor:
    """``options.n`` unguided "no style" samples of a `train diffusion` base (or ``builtin``),
    as uint8 images."""
    require_diffusers()
    _, net, payload = load_model(base_checkpoint(base), device, kind=KIND)
    gen = _own_generator(net, payload, device, {ANY_STYLE: net.null_class})
    return gen.sample(ANY_STYLE, options)  # "no style" is drawn unguided


def _from_lora_run(
    run: str | os.PathLike[str], device: torch.device, base: str | None = None
) -> Generator:
    """A LoRA run (folder, ``model.pt`` or ``lora.json``) on its base, or on ``base``."""
    folder, info = read_lora_info(run)
    base = base or info["base"]
    if info.get("base_type") == "diffusers":
        return _pipeline_generator(str(base), folder, device)
    model, payload, style_classes = load_adapted(folder, info, device, base=base)

    @contextlib.contextmanager
    def base_off() -> Iterator[None]:  # the base alone: adapters off for one prediction
        set_adapters_enabled(model.inner, False)
        try:
            yield
        finally:
            set_adapters_enabled(model.inner, True)

    gen = _own_generator(model, payload, device, style_classes, base_off=base_off)
    name = BUILTIN if is_builtin(base) else Path(str(base)).name
    gen.describe = f"LoRA r={info.get('rank')} on {name}"
    gen.info = info
    return gen


def _pipeline_generator(base: str, lora: Path | None, device: torch.device) -> Generator:
    """A Hugging Face text-to-image pipeline (with a LoRA run's adapter and styles), loaded
    once and kept for every request."""
    from wikiart.diffusion.captions import captions_for
    from wikiart.diffusion.pipeline import native_size, open_pipeline
    from wikiart.diffusion.pipeline_sample import generate, run_defaults

    pipe, info, folder = open_pipeline(base, lora, device)
    styles = list(info.get("styles") or [])
    size = int(info.get("image_size") or native_size(pipe))

    def draw(style: str, options: SampleOptions) -> torch.Tensor:
        captions = captions_for(info, [style], folder)
        return generate(pipe, captions, options, image_size=size)[style]

    gen = Generator(styles, size, draw, f"pipeline {base}", info=info, any_style=not styles)
    gen.defaults = run_defaults(info)
    return gen
