"""LoRA on a Hugging Face text-to-image pipeline: `wikiart train lora` and `wikiart sample` when
the base is a Stable-Diffusion-shaped diffusers pipeline (a hub id or a local
``save_pretrained`` folder) rather than a `train diffusion` checkpoint.

Training follows diffusers' LoRA text-to-image recipe (``train_text_to_image_lora.py``): the VAE,
the text encoder and the UNet are frozen, peft LoRA layers (diffusers' own ``unet.add_adapter``)
on the UNet's attention projections (optionally its ResNet convolutions too) are the only
trainable weights, kept in fp32; each image is encoded to VAE latents, noised at a random
timestep, and the UNet learns the noise (or the velocity, per the scheduler's prediction type)
given the embedding of its style's caption. Captions are fixed per style ("a painting in the
style of Cubism", optionally with a rare token per style), so their embeddings are computed once;
a share of them (``label_dropout``) is replaced by the empty caption, which is what
classifier-free guidance contrasts with at sampling time.

The run goes through the shared training loop (`wikiart.train.loop.fit`: history, checkpoints,
resume, mixed precision), which saves the adapter alone (`AdapterOnly`). At the end the adapter
is also written as ``pytorch_lora_weights.safetensors`` in diffusers' format, so
``pipe.load_lora_weights(RUN)`` of any diffusers install reads it, beside ``lora.json`` (base,
styles, captions), ``loss.png`` and ``grid.png``.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from wikiart.diffusion.common import (
    LORA_WEIGHTS,
    AdapterOnly,
    accumulating_step,
    read_lora_info,
    select_styles,
    to_signed,
    train_batches,
    write_lora_info,
)
from wikiart.diffusion.settings import LoraConfig
from wikiart.errors import UnknownStyleError, WikiartError

log = logging.getLogger(__name__)

#: Where LoRA layers go in the UNet: the attention projections (``auto`` on a pipeline, whose
#: UNet is mostly attention, as in diffusers' recipe), or those and the ResNet convolutions.
TARGET_MODULES: dict[str, list[str]] = {
    "auto": ["to_k", "to_q", "to_v", "to_out.0"],
    "attention": ["to_k", "to_q", "to_v", "to_out.0"],
    "attention+conv": ["to_k", "to_q", "to_v", "to_out.0", "conv1", "conv2"],
}
#: The caption of a style when nothing else says how to ask for it.
DEFAULT_CAPTION = "a painting in the style of {style}"
SAMPLERS = ("ddim", "dpm")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".safetensors", ".bin")


# ---------------------------------------------------------------------------------------------
# Loading the base pipeline


def _require_diffusers() -> None:
    try:
        import diffusers  # noqa: F401
        import peft  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise WikiartError(
            f"pipelines need the diffusion extra ({exc.name} is missing): "
            "pip install 'wikiart[diffusion]'"
        ) from None


def _first_line(exc: BaseException, limit: int = 200) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _is_hub_id(base: str) -> bool:
    return bool(_HUB_ID.match(base)) and not base.lower().endswith(_WEIGHT_SUFFIXES)


def looks_like_pipeline(base: str | os.PathLike[str]) -> bool:
    """Whether ``base`` names a diffusers pipeline: a local folder with ``model_index.json``, or
    a string that is no existing path and reads as a hub id (``org/name``)."""
    path = Path(base)
    if path.is_dir():
        return (path / "model_index.json").is_file()
    return not path.exists() and _is_hub_id(str(base))


def base_reference(base: str | os.PathLike[str]) -> str:
    """How ``lora.json`` records the base: the absolute path of a local folder, else the hub id."""
    path = Path(base)
    return str(path.resolve()) if path.exists() else str(base)


def load_pipeline(
    base: str | os.PathLike[str],
    device: torch.device | str = "cpu",
    dtype: torch.dtype | None = None,
):
    """The Stable-Diffusion-shaped pipeline ``base`` names (a local ``save_pretrained`` folder or
    a hub id), on ``device`` in ``dtype`` (default fp32), without safety checker or progress
    bars. Anything unusable is a one-line `WikiartError` naming ``base``."""
    _require_diffusers()
    from diffusers import StableDiffusionPipeline

    text = str(base)
    path = Path(base)
    if path.is_dir() and not (path / "model_index.json").is_file():
        raise WikiartError(
            f"{text} is not a diffusers pipeline folder (no model_index.json); expected a "
            "save_pretrained folder, a hub id, or a `train diffusion` RUN/model.pt"
        )
    if path.exists() and not path.is_dir():
        raise WikiartError(
            f"{text} is a file, not a diffusers pipeline (a folder with model_index.json, or a "
            "hub id such as org/name)"
        )
    if not path.exists() and not _is_hub_id(text):
        raise WikiartError(f"base {text} not found (no such folder, and not a hub id)")
    where = "" if path.exists() else " (not a local folder; tried as a hub id)"
    try:
        with _quiet_loading(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            pipe = StableDiffusionPipeline.from_pretrained(
                text,
                safety_checker=None,
                requires_safety_checker=False,
                torch_dtype=dtype or torch.float32,  # `dtype` in new diffusers, unknown in old
            )
    except Exception as exc:  # diffusers/transformers/hub errors of every kind
        raise WikiartError(
            f"could not load the diffusers pipeline {text}{where}: {_first_line(exc)}"
        ) from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(torch.device(device))


class _quiet_loading:
    """diffusers' and transformers' loading progress bars and notices (below warnings) off for
    the duration; restored after."""

    def __init__(self, keep_warnings: bool = True) -> None:
        self.keep_warnings = keep_warnings

    def __enter__(self) -> None:
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        self._bars = [m for m in (dlog, tlog) if m.is_progress_bar_enabled()]
        for module in self._bars:
            module.disable_progress_bar()
        self._levels = [(m, m.get_verbosity()) for m in (dlog, tlog)]
        for module, level in self._levels:
            module.set_verbosity(max(level, module.WARNING if self.keep_warnings else module.ERROR))

    def __exit__(self, *exc: Any) -> None:
        for module in self._bars:
            module.enable_progress_bar()
        for module, level in self._levels:
            module.set_verbosity(level)


def native_size(pipe: Any) -> int:
    """The image side the pipeline was made for: the UNet's latent size x the VAE's factor."""
    sample = pipe.unet.config.sample_size
    sample = sample[0] if isinstance(sample, (list, tuple)) else sample
    return int(sample) * int(pipe.vae_scale_factor)


def make_sampler(name: str, scheduler_config: Any):
    """DDIM or DPM-Solver++ (multistep) over the pipeline's own noise schedule."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(scheduler_config)
    if name == "dpm":
        return DPMSolverMultistepScheduler.from_config(scheduler_config)
    raise WikiartError(f"unknown sampler {name!r}; expected one of {', '.join(SAMPLERS)}")


# ---------------------------------------------------------------------------------------------
# Captions and their embeddings


def style_captions(
    styles: Sequence[str], template: str = DEFAULT_CAPTION, rare_tokens: bool = False
) -> dict[str, str]:
    """The caption of each style: ``template`` with ``{style}`` as its name (spaces for ``_``),
    with ``rare_tokens`` preceded by a token of its own (``sks0``, ``sks1``, ...)."""
    if "{style}" not in template:
        raise WikiartError(f"the caption template {template!r} lacks {{style}}")
    out = {}
    for i, name in enumerate(styles):
        try:
            text = template.format(style=name.replace("_", " "))
        except (KeyError, IndexError, ValueError) as exc:
            raise WikiartError(f"bad caption template {template!r}: {exc}") from None
        out[name] = f"sks{i} {text}" if rare_tokens else text
    return out


@torch.no_grad()
def encode_captions(pipe: Any, captions: Sequence[str]) -> torch.Tensor:
    """The frozen text encoder's embedding of each caption, ``[len, tokens, dim]``, by the
    pipeline's own ``encode_prompt`` (so training conditions exactly as sampling will)."""
    embeds, _ = pipe.encode_prompt(
        list(captions), pipe.text_encoder.device, 1, do_classifier_free_guidance=False
    )
    return embeds.detach()


# ---------------------------------------------------------------------------------------------
# Sampling


def _style_seed(seed: int, style: str) -> int:
    """The noise seed of ``style``'s images: the same whichever other styles are requested."""
    return (int(seed) * 1_000_003 + zlib.crc32(style.encode("utf-8"))) % (2**63)


@torch.no_grad()
def generate(
    pipe: Any,
    captions: dict[str, str],
    n: int,
    seed: int,
    guidance: float,
    steps: int,
    sampler: str = "ddim",
    batch_size: int = 8,
    image_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """``n`` images per style (uint8 ``[n, 3, H, W]`` on the CPU) from ``pipe`` as it is (with
    whatever adapter it has), each style from its caption. The starting latents are drawn on
    the CPU from ``seed`` and the style's name, so the images do not depend on the batch size,
    on the other styles asked for, or on the device's random generator."""
    if n < 1:
        raise WikiartError(f"the number of images must be >= 1, got {n}")
    if steps < 1:
        raise WikiartError(f"sampling steps must be >= 1, got {steps}")
    size = int(image_size or native_size(pipe))
    factor = int(pipe.vae_scale_factor)
    if size % factor:
        raise WikiartError(f"image size {size} is not a multiple of the VAE's factor {factor}")
    pipe.scheduler = make_sampler(sampler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    unet = pipe.unet
    was_training = unet.training
    unet.eval()
    shape = (n, int(unet.config.in_channels), size // factor, size // factor)
    out: dict[str, torch.Tensor] = {}
    try:
        for style, caption in captions.items():
            gen = torch.Generator("cpu").manual_seed(_style_seed(seed, style))
            latents = torch.randn(shape, generator=gen)
            images = []
            for start in range(0, n, max(1, batch_size)):
                chunk = latents[start : start + batch_size]
                result = pipe(
                    prompt=[caption] * len(chunk),
                    height=size,
                    width=size,
                    num_inference_steps=steps,
                    guidance_scale=guidance,
                    latents=chunk.to(pipe.device, unet.dtype),
                    generator=torch.Generator("cpu").manual_seed(_style_seed(seed, style) + start),
                    output_type="pt",
                )
                x = result.images.float().cpu()
                images.append((x * 255 + 0.5).clamp(0, 255).to(torch.uint8))
            out[style] = torch.cat(images)
    finally:
        unet.train(was_training)
    return out


def sample_pipeline(
    base: str | None,
    lora: str | os.PathLike[str] | None,
    styles: Sequence[str],
    n: int,
    seed: int,
    guidance: float,
    steps: int,
    sampler: str,
    device: torch.device | str,
    batch_size: int = 8,
    captions: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """``n`` images of each style, uint8 ``[n, 3, H, W]``, from the pipeline ``base`` with, if
    given, the LoRA run ``lora`` loaded by diffusers' own ``load_lora_weights``.

    With ``lora``, styles are those of its ``lora.json`` (all of them when ``styles`` is empty;
    any other name is an `UnknownStyleError`), asked for by its captions, and ``base`` defaults
    to the one it was trained on; without, any style name is asked for by the default caption.
    ``captions`` overrides the caption of the styles it names. Same seed, same images."""
    pipe, info, folder = open_pipeline(base, lora, device)
    chosen = _chosen_captions(info, list(styles), captions, folder)
    return generate(
        pipe,
        chosen,
        n,
        seed,
        guidance,
        steps,
        sampler,
        batch_size,
        image_size=info.get("image_size") or None,
    )


def open_pipeline(
    base: str | None, lora: str | os.PathLike[str] | None, device: torch.device | str
) -> tuple[Any, dict[str, Any], Path | None]:
    """The pipeline ``base`` (default: the LoRA run's own base) on ``device`` with the run's
    adapter loaded by diffusers' ``load_lora_weights``: ``(pipe, lora.json, run folder)``."""
    device = torch.device(device)
    info: dict[str, Any] = {}
    folder = None
    if lora is not None:
        folder, info = read_lora_info(lora)
        if info.get("base_type", "diffusers") != "diffusers":
            raise WikiartError(
                f"{folder} adapts a `train diffusion` model, not a diffusers pipeline"
            )
        if not (folder / LORA_WEIGHTS).is_file():
            raise WikiartError(f"{folder} has no {LORA_WEIGHTS} (training did not finish?)")
        base = base or info["base"]
    if not base:
        raise WikiartError("sampling a pipeline needs a base (a hub id or a local folder)")
    from wikiart.device import amp_dtype

    pipe = load_pipeline(base, device, amp_dtype(device, "auto"))
    if folder is not None:
        try:
            with _quiet_loading(keep_warnings=False):  # not: "no LoRA keys for the text encoder"
                pipe.load_lora_weights(str(folder), weight_name=LORA_WEIGHTS)
        except Exception as exc:
            raise WikiartError(
                f"could not load the adapter of {folder} into {base}: {_first_line(exc)}"
            ) from None
    return pipe, info, folder


def captions_for(
    info: dict[str, Any], styles: Sequence[str], folder: Path | None
) -> dict[str, str]:
    """The caption of each style: the LoRA run's own, or the default template."""
    return _chosen_captions(info, list(styles), None, folder)


def _chosen_captions(
    info: dict[str, Any],
    styles: list[str],
    captions: dict[str, str] | None,
    folder: Path | None,
) -> dict[str, str]:
    """The caption of each requested style: the run's own (refusing a style it does not know),
    or the default template without a run; ``captions`` on top."""
    if folder is None:
        if not styles:
            raise WikiartError("name the styles to sample (the base pipeline has no style list)")
        known = style_captions(styles)
    else:
        run_styles = [str(s) for s in info["styles"]]
        known = {**style_captions(run_styles), **dict(info.get("captions") or {})}
        unknown = [s for s in styles if s not in run_styles]
        if unknown:
            raise UnknownStyleError(
                f"unknown style {unknown[0]!r}; {folder} was trained on: {', '.join(run_styles)}"
            )
        styles = styles or run_styles
    return {s: (captions or {}).get(s, known[s]) for s in dict.fromkeys(styles)}


# ---------------------------------------------------------------------------------------------
# Training


def train_pipeline_lora(
    cfg: LoraConfig, out: str | os.PathLike[str], progress: bool = False
) -> dict[str, Any]:
    """Train a LoRA adapter onto the pipeline ``cfg.base`` with the shared loop; write
    ``pytorch_lora_weights.safetensors`` (diffusers' format), ``lora.json``, ``config.json``,
    ``history.csv``, ``model.pt``/``last.pt`` (adapter only), ``loss.png`` and ``grid.png``.

    Gradient accumulation (``cfg.accumulate = k``): the loader gives batches of
    ``cfg.batch_size`` and each optimizer step splits its batch into ``k`` micro-batches whose
    gradients are taken one after the other, so the effective batch is ``batch_size`` and the
    memory that of ``batch_size / k`` images. (With fp16 loss scaling the micro-batch gradients
    but the last are taken unscaled; bf16 and fp32 are unaffected.)

    Returns the last epoch's history row with ``seconds``, ``adapter_bytes`` and ``base_bytes``
    (parameter bytes of the adapter and of the UNet it adapts)."""
    _require_diffusers()
    from wikiart.config_io import save_config
    from wikiart.data.classmap import ClassMap
    from wikiart.data.loader import cache_options, prepare_split
    from wikiart.device import amp_dtype, resolve_device
    from wikiart.train.run import start_run

    _check_config(cfg)
    out = Path(out)
    started = time.perf_counter()
    device = resolve_device(cfg.device)
    pipe = load_pipeline(str(cfg.base), device, amp_dtype(device, cfg.precision))
    ds = start_run(cfg, out)
    refs = ds.split("train")
    styles = select_styles((r.style for r in refs), cfg.styles, cfg.exclude_styles)
    save_config(cfg, out)  # the base and the styles are usable: the run starts
    size = int(cfg.data.image_size or native_size(pipe))
    if size % int(pipe.vae_scale_factor):
        raise WikiartError(
            f"image size {size} is not a multiple of the VAE's factor {pipe.vae_scale_factor}"
        )
    keep = set(styles)
    cache = {**cache_options(cfg.data, ds.cache_source, progress), "image_size": size}
    data = prepare_split(
        [r for r in refs if r.style in keep], ClassMap(tuple(styles)), split="train", **cache
    )
    loader = train_batches(data, cfg, len(styles))
    captions = style_captions(styles, cfg.caption, cfg.rare_tokens)
    table = encode_captions(pipe, [*captions.values(), ""])  # the last row: no caption
    adapter, targets = _inject_lora(pipe.unet, cfg)
    log.info(
        "lora: %d styles, %d training images at %d px, rank %d, %d adapter parameters on %s",
        len(styles),
        len(data),
        size,
        cfg.rank,
        sum(p.numel() for p in adapter.trainable()),
        device,
    )
    info = {
        "base": base_reference(str(cfg.base)),
        "base_type": "diffusers",
        "styles": styles,
        "captions": captions,
        "rank": int(cfg.rank),
        "alpha": float(cfg.alpha if cfg.alpha is not None else cfg.rank),
        "targets": targets,
        "image_size": size,
        "guidance": float(cfg.guidance),
        "sample_steps": int(cfg.sample_steps),
        "sampler": cfg.sampler,
    }
    result = _fit(adapter, pipe, table, loader, cfg, device, out, progress, info)
    _finish(adapter, pipe, result.history, cfg, out, info)
    row: dict[str, Any] = dict(result.history[-1]) if result.history else {}
    adapter_ids = {id(p) for p in adapter.trainable()}
    row["seconds"] = time.perf_counter() - started
    row["adapter_bytes"] = sum(_nbytes(p) for p in adapter.trainable())
    row["base_bytes"] = sum(_nbytes(p) for p in pipe.unet.parameters() if id(p) not in adapter_ids)
    return row


def _nbytes(p: torch.Tensor) -> int:
    return p.numel() * p.element_size()


def _check_config(cfg: LoraConfig) -> None:
    if not cfg.base:
        raise WikiartError("train lora needs --base (a diffusers pipeline or a RUN/model.pt)")
    if cfg.rank < 1:
        raise WikiartError(f"rank must be >= 1, got {cfg.rank}")
    if cfg.alpha is not None and not cfg.alpha > 0:
        raise WikiartError(f"alpha must be > 0, got {cfg.alpha}")
    if cfg.targets not in TARGET_MODULES:
        raise WikiartError(
            f"unknown targets {cfg.targets!r}; expected one of {', '.join(TARGET_MODULES)}"
        )
    if not 0.0 <= cfg.label_dropout <= 1.0:
        raise WikiartError(f"label_dropout must be in [0, 1], got {cfg.label_dropout}")
    if cfg.batch_size < 1:
        raise WikiartError(f"batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.accumulate < 1 or cfg.batch_size % cfg.accumulate:
        raise WikiartError(
            f"accumulate ({cfg.accumulate}) must divide the batch size ({cfg.batch_size}): "
            "each batch is split into that many micro-batches"
        )
    if cfg.sampler not in SAMPLERS:
        raise WikiartError(f"unknown sampler {cfg.sampler!r}; expected one of {SAMPLERS}")


def _inject_lora(unet: nn.Module, cfg: LoraConfig) -> tuple[AdapterOnly, list[str]]:
    """Freeze the UNet and add peft LoRA layers through diffusers' ``add_adapter`` (Gaussian A,
    zero B: the adapted UNet starts as the base); the adapter's weights in fp32."""
    from peft import LoraConfig as PeftLoraConfig

    targets = list(TARGET_MODULES[cfg.targets])
    unet.requires_grad_(False)
    unet.add_adapter(
        PeftLoraConfig(
            r=int(cfg.rank),
            lora_alpha=float(cfg.alpha if cfg.alpha is not None else cfg.rank),
            init_lora_weights="gaussian",
            target_modules=targets,
        )
    )
    adapter = AdapterOnly(unet, unet)
    params = adapter.trainable()
    if not params:
        raise WikiartError(f"no UNet layer matches the LoRA targets {targets}")
    for p in params:
        p.data = p.data.float()
    if cfg.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    return adapter, targets


def _fit(
    adapter: AdapterOnly,
    pipe: Any,
    table: torch.Tensor,
    loader: torch.utils.data.DataLoader,
    cfg: LoraConfig,
    device: torch.device,
    out: Path,
    progress: bool,
    info: dict[str, Any],
) -> Any:
    """AdamW on the adapter with cosine annealing over the run, through the shared loop."""
    from diffusers import DDPMScheduler

    from wikiart.train.loop import LoopConfig, fit
    from wikiart.train.optim import make_optimizer, make_scheduler

    params = adapter.trainable()
    opt = make_optimizer(params, "adamw", lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "cosine", len(loader) * cfg.epochs)
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    loss_fn = _diffusion_loss(pipe.vae, noise_scheduler, table, cfg.label_dropout)
    step = accumulating_step(loss_fn, params, cfg.accumulate)
    loop = LoopConfig.for_job(cfg, device, out, progress, patience=None)
    extra = {
        "kind": "lora",
        "model_config": {
            k: info[k]
            for k in ("base", "base_type", "rank", "alpha", "targets", "captions", "image_size")
        },
        "classes": list(info["styles"]),
        "preprocess": {"image_size": info["image_size"], "fit": cfg.data.fit},
    }
    return fit(adapter, opt, loader, step, loop, scheduler=sched, make_payload_extra=lambda: extra)


LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def _diffusion_loss(
    vae: nn.Module, noise_scheduler: Any, table: torch.Tensor, label_dropout: float
) -> LossFn:
    """``loss(unet, images, labels)``: the recipe's MSE between the UNet's prediction and the
    noise (or velocity) at random timesteps, given each style's caption embedding (the empty
    caption's, the table's last row, for a ``label_dropout`` share)."""
    scaling = float(vae.config.scaling_factor)
    shift = getattr(vae.config, "shift_factor", None)
    prediction = noise_scheduler.config.prediction_type
    if prediction not in ("epsilon", "v_prediction"):
        raise WikiartError(
            f"the base's scheduler predicts {prediction!r}; LoRA training "
            "supports epsilon and v_prediction"
        )
    steps = int(noise_scheduler.config.num_train_timesteps)
    null = table.shape[0] - 1

    def loss(unet: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        dev = x.device
        with torch.no_grad():
            pixels = to_signed(x).to(vae.dtype)
            latents = vae.encode(pixels).latent_dist.sample()
            if shift is not None:
                latents = latents - float(shift)
            latents = latents.float() * scaling
        noise = torch.randn_like(latents)
        t = torch.randint(0, steps, (len(x),), device=dev, dtype=torch.long)
        noisy = noise_scheduler.add_noise(latents, noise, t)
        target = (
            noise if prediction == "epsilon" else noise_scheduler.get_velocity(latents, noise, t)
        )
        if label_dropout > 0:
            y = torch.where(torch.rand(len(y), device=dev) < label_dropout, null, y)
        context = table[y]
        pred = unet(noisy, t, encoder_hidden_states=context).sample
        return F.mse_loss(pred.float(), target.float())

    return loss


def _finish(
    adapter: AdapterOnly,
    pipe: Any,
    history: list[dict[str, Any]],
    cfg: LoraConfig,
    out: Path,
    info: dict[str, Any],
) -> None:
    """The saved ``model.pt`` adapter as ``pytorch_lora_weights.safetensors``, ``lora.json``,
    ``loss.png`` and ``grid.png`` (``cfg.samples`` images per style, one row each)."""
    from wikiart.checkpoints import load_checkpoint
    from wikiart.report.classifier_plots import plot_history
    from wikiart.report.plots import image_grid

    best = out / "model.pt"
    if best.exists():
        adapter.load_state_dict(load_checkpoint(best)["state_dict"])
    save_diffusers_lora(pipe.unet, out, info["rank"], info["alpha"])
    write_lora_info(out, info)
    plot_history(history, out / "loss.png", keys=("train_loss",), metric_keys=())
    if cfg.samples > 0:
        images = generate(
            pipe,
            info["captions"],
            cfg.samples,
            cfg.seed,
            cfg.guidance,
            cfg.sample_steps,
            cfg.sampler,
            batch_size=cfg.batch_size,
            image_size=info["image_size"],
        )
        rows = [
            (style.replace("_", " "), [img.permute(1, 2, 0).numpy() for img in imgs])
            for style, imgs in images.items()
        ]
        image_grid(rows, out / "grid.png")


def save_diffusers_lora(unet: nn.Module, out: Path, rank: int, alpha: float) -> Path:
    """Write the UNet's adapter as ``pytorch_lora_weights.safetensors`` in diffusers' format.
    diffusers reads an adapter saved this way with ``alpha = rank``, so a different alpha's
    scale ``alpha / rank`` is folded into the B (up) matrices: the loaded adapter acts the same."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import get_peft_model_state_dict

    state = get_peft_model_state_dict(unet)
    scale = float(alpha) / float(rank)
    state = {
        k: (v * scale if scale != 1.0 and ".lora_B." in k else v)
        .detach()
        .float()
        .cpu()
        .contiguous()
        for k, v in state.items()
    }
    # diffusers' converter renames only the attention projections' keys (lora_A -> lora.down),
    # while its loader judges the whole file's naming by the first key: the convolutions' keys
    # are renamed the same way, or a file with both would lose one kind on loading.
    layers = {
        k.replace(".lora_A.", ".lora.down.").replace(".lora_B.", ".lora.up."): v
        for k, v in convert_state_dict_to_diffusers(state).items()
    }
    StableDiffusionPipeline.save_lora_weights(
        save_directory=str(out),
        unet_lora_layers=layers,
        weight_name=LORA_WEIGHTS,
        safe_serialization=True,
    )
    mask = os.umask(0)  # safetensors writes 0600: give the file the usual permissions
    os.umask(mask)
    os.chmod(out / LORA_WEIGHTS, 0o666 & ~mask)
    return out / LORA_WEIGHTS
