"""The diffusion jobs' registrations (`wikiart.jobs`): ``wikiart train diffusion`` and
``wikiart train lora`` (``wikiart.train_diffusion``, ``wikiart.train_lora``), ``wikiart evaluate
--judge`` of either and their checkpoints. Torch-free: the functions named here are imported
when used (they need the ``diffusion`` extra)."""

from __future__ import annotations

from typing import Any

from wikiart.diffusion.settings import (
    KIND,
    LORA_KIND,
    VAE_KIND,
    DiffusionConfig,
    LoraConfig,
    VaeConfig,
)
from wikiart.jobs import Evaluation, Job, register


def _summary(files: str, res: dict[str, Any], out: str) -> str:
    size = ""
    if "adapter_parameters" in res:
        size = (
            f" adapter={res['adapter_parameters']:,} parameters "
            f"({100 * res['adapter_parameters'] / res['base_parameters']:.1f}% of the base)"
        )
    return (
        f"epoch {int(res.get('epoch', 0))}: loss={res.get('train_loss', float('nan')):.4f}"
        f"{size} in {res.get('seconds', 0):.0f}s; run: {out} ({files})"
    )


def summary(res: dict[str, Any], out: str) -> str:
    return _summary("model.pt, grid.png", res, out)


def lora_summary(res: dict[str, Any], out: str) -> str:
    return _summary("pytorch_lora_weights.safetensors, lora.json, grid.png", res, out)


def vae_summary(res: dict[str, Any], out: str) -> str:
    return (
        f"epoch {int(res.get('epoch', 0))}: loss={res.get('train_loss', float('nan')):.4f} "
        f"validation PSNR={res.get('val_psnr', float('nan')):.2f} dB in "
        f"{res.get('seconds', 0):.0f}s; run: {out} (model.pt, recon.png)"
    )


def eval_summary(res: dict[str, Any], out: str) -> str:
    from wikiart.diffusion.evaluate import format_table

    return f"{format_table(res)}\nwrote {out}/diffusion_eval.json, grid.png and nearest.png"


#: Both jobs' runs are evaluated alike, and fill the app's Generate tab alike.
EVALUATION = Evaluation(
    "wikiart.diffusion.evaluate:evaluate_diffusion", ("diffusion_eval.json",), eval_summary,
    judged=True,
)  # fmt: skip
APP = {"generate": "wikiart.diffusion.generate:open_generator"}

JOB = register(
    Job(
        name="diffusion",
        help="a class-conditional diffusion model (diffusers UNet, from scratch)",
        settings=DiffusionConfig,
        train="wikiart.diffusion.train:train_diffusion",
        resolve="wikiart.diffusion.settings:resolve_config",
        summary=summary,
        kinds={KIND: "wikiart.models.diffusion:from_checkpoint"},
        evaluation=EVALUATION,
        app=APP,
        demo=("diffusion (judge, training, evaluation)", "wikiart.diffusion.demo:diffusion_stage"),
    )
)

LORA_JOB = register(
    Job(
        name="lora",
        help="LoRA adapters on a diffusion base: a Hugging Face pipeline or a `train diffusion` "
        "run",
        settings=LoraConfig,
        train="wikiart.diffusion.lora:train_lora",
        resolve="wikiart.diffusion.settings:resolve_lora_config",
        summary=lora_summary,
        kinds={LORA_KIND: "wikiart.diffusion.adapters:build_lora_model"},
        usage="--base BASE",
        evaluation=EVALUATION,
        app=APP,
    )
)

VAE_JOB = register(
    Job(
        name="vae",
        help="the latent autoencoder of latent diffusion (`train diffusion --vae RUN/model.pt`)",
        settings=VaeConfig,
        train="wikiart.diffusion.vae:train_vae",
        resolve="wikiart.diffusion.settings:resolve_vae_config",
        summary=vae_summary,
        kinds={VAE_KIND: "wikiart.models.vae:from_checkpoint"},
    )
)
