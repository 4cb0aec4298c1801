"""The diffusion jobs' settings (`wikiart train diffusion`, `wikiart train lora`): their
dataclasses, the checks a resolved configuration must pass, and what training needs before it
starts. Torch-free (the diffusion extra is checked when training starts)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from wikiart.builtins import checkpoint_path
from wikiart.config import DEVICES, GRID_ROW, SAMPLERS, DataConfig, Limit, TrainConfig, setting
from wikiart.config_io import build_config
from wikiart.data.dataset import require_data
from wikiart.errors import WikiartError

KIND = "diffusion"
LORA_KIND = "lora"
VAE_KIND = "vae"
NOISE_SCHEDULES = ("cosine", "linear")
PREDICTIONS = ("epsilon", "v_prediction")
DIFFUSION_BALANCE = ("sampler", "none")
LORA_TARGETS = ("auto", "attention", "attention+conv")


@dataclass
class DiffusionConfig(TrainConfig):
    """`wikiart train diffusion`: a class-conditional pixel-space diffusion model (diffusers
    `UNet2DModel` with a class embedding) trained from scratch. One extra class means "no
    style": labels are dropped to it now and then, for classifier-free guidance."""

    epochs: int = setting(40, "training epochs")
    batch_size: int = setting(64, "images per batch")
    lr: float = setting(2e-3, "peak learning rate (one-cycle schedule)")
    weight_decay: float = setting(1e-2, "AdamW's decoupled weight decay", advanced=True)
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=32))
    styles: list[str] | None = setting(None, "train on these styles only (comma-separated)")
    exclude_styles: list[str] | None = setting(
        None, "leave these styles out (e.g. to adapt to one later with train lora)"
    )
    vae: str | None = setting(
        None,
        "a `train vae` RUN/model.pt: diffuse in its latent space (latent diffusion; --image-size "
        "is then the images' side, the latents' is smaller by the autoencoder's factor)",
    )
    init: str | None = setting(
        None,
        "fine-tune this model instead of starting from scratch: a `train diffusion` "
        "RUN/model.pt, or builtin (the packaged base); its architecture, autoencoder, size and "
        "styles are kept (train on the same styles; for a new style use `train lora`)",
    )
    unconditional: bool = setting(False, "one style-agnostic model: every image is 'no style'")
    balance: str = setting(
        "sampler",
        "class-balanced sampling (every style equally often), or the data's own frequencies",
        choices=DIFFUSION_BALANCE,
    )
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the training images)"
    )
    widths: list[int] = setting(
        factory=lambda: [32, 64, 64], help="UNet channels per resolution", advanced=True
    )
    layers_per_block: int = setting(1, "ResNet blocks per resolution", advanced=True)
    attention_levels: int = setting(
        1, "self-attention in this many of the lowest resolutions", advanced=True
    )
    label_dropout: float = setting(
        0.1, "share of labels replaced by 'no style' (classifier-free guidance)", advanced=True
    )
    noise_schedule: str = setting(
        "cosine",
        "noise schedule (cosine: squaredcos_cap_v2)",
        choices=NOISE_SCHEDULES,
        advanced=True,
    )
    prediction: str = setting(
        "v_prediction",
        "what the UNet predicts: the velocity (stable at every noise level of the cosine "
        "schedule) or the noise",
        choices=PREDICTIONS,
        advanced=True,
    )
    train_timesteps: int = setting(1000, "diffusion steps of the noise schedule", advanced=True)
    snr_gamma: float | None = setting(
        5.0, "Min-SNR-γ loss weighting (faster convergence; 0: plain MSE)", advanced=True
    )
    ema_decay: float = setting(
        0.995, "EMA of the weights per step (what is sampled and saved; 0: off)", advanced=True
    )
    flip: bool = setting(True, "random horizontal flips", advanced=True)
    sampler: str = setting("ddim", "sampler of the grids", choices=SAMPLERS, advanced=True)
    sample_steps: int = setting(25, "denoising steps of the grids", advanced=True)
    guidance: float = setting(3.0, "classifier-free guidance scale of the grids", advanced=True)
    samples: int = setting(8, "images per style in each grid", advanced=True, limit=GRID_ROW)
    sample_every: int = setting(
        10,
        "write samples_epochNNN.png every N epochs (0: only the final grid.png)",
        advanced=True,
    )


@dataclass
class VaeConfig(TrainConfig):
    """`wikiart train vae`: the latent autoencoder of latent diffusion (diffusers
    `AutoencoderKL`, from scratch), trained on random crops to reconstruct paintings; `train
    diffusion --vae RUN/model.pt` then diffuses in its latent space."""

    epochs: int = setting(20, "training epochs")
    batch_size: int = setting(32, "crops per batch")
    lr: float = setting(1e-3, "peak learning rate (one-cycle schedule)")
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=64))
    crop: int = setting(
        32,
        "train on random crops of this side (0: whole images; it is fully convolutional)",
        limit=Limit(0, 4096),
    )
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the training images)"
    )
    widths: list[int] = setting(
        factory=lambda: [32, 64, 128],
        help="channels per resolution; the latent is 2^(levels-1) times smaller per side",
        advanced=True,
    )
    latent_channels: int = setting(4, "latent channels", advanced=True, limit=Limit(1, 64))
    kl_weight: float = setting(
        1e-6,
        "weight of the posterior's KL divergence (keeps the latent space smooth)",
        advanced=True,
        limit=Limit(0, 1),
    )
    mse_weight: float = setting(
        1.0, "weight of the squared error beside the L1", advanced=True, limit=Limit(0, 100)
    )
    flip: bool = setting(True, "random horizontal flips", advanced=True)
    balance: str = setting(
        "none",
        "class-balanced sampling, or the data's own frequencies",
        choices=DIFFUSION_BALANCE,
        advanced=True,
    )
    samples: int = setting(8, "images in recon.png", advanced=True, limit=GRID_ROW)
    init: str | None = setting(
        None, "start from this `train vae` RUN/model.pt (its architecture and weights)"
    )
    decoder_only: bool = setting(
        False,
        "with --init: train the decoder alone; the encoder and the latent scale are kept, so a "
        "diffusion model trained on its latents stays valid with the new decoder",
    )
    perceptual_weight: float = setting(
        0.0,
        "weight of a perceptual term: the relative distance of reconstruction and painting in "
        "the first stages of the ImageNet EfficientNet-Lite2 (offline weights, the 'pretrained' "
        "extra), for sharper textures than L1 and squared error give",
        advanced=True,
        limit=Limit(0, 100),
    )
    adversarial_weight: float = setting(
        0.0,
        "with --init: weight of an adversarial term against a PatchGAN critic trained beside "
        "the decoder (adaptively scaled to the reconstruction term, as Stable Diffusion's "
        "autoencoder was trained): paint-like texture where the other terms leave a blur",
        advanced=True,
        limit=Limit(0, 100),
    )


@dataclass
class LoraConfig(TrainConfig):
    """`wikiart train lora`: LoRA adapters (peft) trained onto a base diffusion model, a
    Hugging Face text-to-image pipeline or a `train diffusion` checkpoint; only the adapter is
    saved."""

    base: str | None = setting(
        None,
        "builtin (the packaged pretrained base), a Hugging Face pipeline (hub id or local "
        "save_pretrained folder) or a `train diffusion` RUN/model.pt",
    )
    epochs: int = setting(10, "training epochs")
    batch_size: int = setting(16, "images per batch")
    lr: float = setting(1e-3, "peak learning rate")
    weight_decay: float = setting(1e-2, "AdamW's decoupled weight decay", advanced=True)
    data: DataConfig = setting(factory=lambda: DataConfig(image_size=0))
    styles: list[str] | None = setting(None, "adapt to these styles only (comma-separated)")
    exclude_styles: list[str] | None = setting(None, "leave these styles out")
    rank: int = setting(8, "LoRA rank")
    alpha: float | None = setting(None, "LoRA alpha (default: the rank, i.e. scale 1)")
    targets: str = setting(
        "auto",
        "layers given adapters: attention projections, or those and the ResNet convolutions "
        "(auto: attention on pipelines, attention+conv on `train diffusion` bases, whose UNet "
        "has little attention)",
        choices=LORA_TARGETS,
    )
    balance: str = setting(
        "sampler",
        "class-balanced sampling, or the data's own frequencies",
        choices=DIFFUSION_BALANCE,
    )
    steps_per_epoch: int | None = setting(
        None, "optimizer steps per epoch (default: one pass over the training images)"
    )
    accumulate: int = setting(1, "gradient accumulation: batches per optimizer step")
    gradient_checkpointing: bool = setting(
        False, "recompute activations in the backward pass (less memory, slower)", advanced=True
    )
    caption: str = setting(
        "a painting in the style of {style}",
        "pipelines: the caption of each image ({style}: the style name, spaces for _)",
        advanced=True,
    )
    rare_tokens: bool = setting(
        False,
        "pipelines: add a rare token per style to its caption (e.g. 'sks1')",
        advanced=True,
    )
    label_dropout: float = setting(
        0.1, "share of captions/labels dropped (classifier-free guidance)", advanced=True
    )
    snr_gamma: float | None = setting(
        5.0,
        "`train diffusion` bases: Min-SNR-γ loss weighting (0: plain MSE)",
        advanced=True,
    )
    flip: bool = setting(True, "random horizontal flips", advanced=True)
    sampler: str = setting("ddim", "sampler of the grid", choices=SAMPLERS, advanced=True)
    sample_steps: int = setting(25, "denoising steps of the grid", advanced=True)
    guidance: float = setting(3.0, "classifier-free guidance scale of the grid", advanced=True)
    samples: int = setting(8, "images per style in grid.png", advanced=True, limit=GRID_ROW)


def resolve_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> DiffusionConfig:
    """Defaults <- TOML <- flags, checked."""
    return build_config(DiffusionConfig, config_file, overrides)


def resolve_vae_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> VaeConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(VaeConfig, config_file, overrides)
    if cfg.crop and (cfg.crop > cfg.data.image_size or cfg.crop % 2 ** (len(cfg.widths) - 1)):
        raise WikiartError(
            f"--crop {cfg.crop} must be at most the image size ({cfg.data.image_size}) and a "
            f"multiple of {2 ** (len(cfg.widths) - 1)} (the autoencoder's downsampling)"
        )
    return cfg


def resolve_lora_config(
    config_file: str | os.PathLike[str] | None, overrides: dict[str, Any]
) -> LoraConfig:
    """Defaults <- TOML <- flags, checked."""
    cfg = build_config(LoraConfig, config_file, overrides)
    check_lora(cfg)
    return cfg


def check_lora(cfg: LoraConfig) -> None:
    """What the ranges cannot say: the gradient accumulation divides each batch."""
    if cfg.batch_size % cfg.accumulate:
        raise WikiartError(
            f"accumulate ({cfg.accumulate}) must divide the batch size ({cfg.batch_size}): "
            "each batch is split into that many micro-batches"
        )


def require_inputs(cfg: DiffusionConfig | LoraConfig | VaeConfig) -> None:
    """The diffusion extra installed and training data named and present (and for LoRA a
    base)."""
    from wikiart.models.diffusion import require_diffusers  # torch: only once training starts

    require_diffusers()
    require_data(cfg.data.data)
    if isinstance(cfg, VaeConfig) and cfg.decoder_only and cfg.init is None:
        raise WikiartError("--decoder-only trains a trained autoencoder's decoder: pass --init")
    if isinstance(cfg, VaeConfig) and cfg.adversarial_weight > 0 and cfg.init is None:
        raise WikiartError(
            "--adversarial-weight fine-tunes a trained autoencoder (an adversarial term from "
            "scratch is unstable): pass --init"
        )
    if isinstance(cfg, VaeConfig) and cfg.init is not None:
        checkpoint_path(cfg.init, VAE_KIND, "the --init autoencoder")
    if isinstance(cfg, DiffusionConfig) and cfg.init is not None:
        if cfg.vae:
            raise WikiartError("--init keeps its own autoencoder: drop --vae")
        checkpoint_path(cfg.init, KIND, "the --init checkpoint")
    if isinstance(cfg, LoraConfig) and not cfg.base:
        raise WikiartError(
            "no base: pass --base (builtin, a Hugging Face pipeline id or folder, or a "
            "`train diffusion` RUN/model.pt)"
        )


@dataclass
class SampleConfig:
    """`wikiart sample`: images of styles from a diffusion model, a LoRA run or a pipeline."""

    checkpoint: str | None = setting(
        None,
        "a `train diffusion` or `train lora` RUN/model.pt, or builtin (the packaged base: the "
        "default when neither --checkpoint nor --base is given)",
    )
    base: str | None = setting(
        None, "a Hugging Face pipeline (hub id or folder), a diffusion RUN/model.pt, or builtin"
    )
    lora: str | None = setting(None, "a `train lora` run folder (its adapter on --base)")
    style: list[str] | None = setting(None, "style names (as in training)", many=True)
    n: int = setting(8, "images per style", limit=Limit(1, 10_000))
    out: str = setting("", "output folder", required=True)
    overwrite: bool = setting(False, "replace earlier outputs in --out (else refused)")
    seed: int = setting(0, "the same seed gives the same images")
    guidance: float | None = setting(None, "classifier-free guidance scale (default: the run's)")
    steps: int | None = setting(
        None, "denoising steps (default: the run's)", limit=Limit(1, 10_000)
    )
    sampler: str | None = setting(None, "DDIM or DPM-Solver++", choices=SAMPLERS)
    device: str = setting("auto", "where to run", choices=DEVICES)
    batch_size: int = setting(64, "images per batch")
