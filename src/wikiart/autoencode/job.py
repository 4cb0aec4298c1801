"""The autoencoder job's registration (`wikiart.jobs`): ``wikiart train autoencoder``,
``wikiart.train_autoencoder`` and its checkpoints (which ``wikiart cluster`` embeds with).
Torch-free: the functions named here are imported when used."""

from __future__ import annotations

from typing import Any

from wikiart.autoencode.settings import KIND, AutoencoderConfig
from wikiart.jobs import Job, register


def summary(res: dict[str, Any], out: str) -> str:
    if "val_stats" in res:  # the style model
        return (
            f"best epoch {int(res.get('epoch', 0))}: val_stats={res['val_stats']:.4f} "
            f"val_invariance={res.get('val_invariance', 0):.3f} "
            f"val_preview_mse={res.get('val_preview_mse', 0):.4f}; run: {out} "
            "(model.pt, reconstructions.png)"
        )
    return (
        f"best epoch {int(res.get('epoch', 0))}: val_mse={res.get('val_mse', 0):.4f} "
        f"val_ssim={res.get('val_ssim', 0):.3f}; run: {out} (model.pt, reconstructions.png)"
    )


JOB = register(
    Job(
        name="autoencoder",
        help="an autoencoder whose codes clustering uses (style statistics, or pixels)",
        settings=AutoencoderConfig,
        train="wikiart.autoencode.train:train_autoencoder",
        resolve="wikiart.autoencode.train:resolve_config",
        summary=summary,
        kinds={KIND: "wikiart.models.autoencoder:from_checkpoint"},
        demo=("autoencoder + clustering", "wikiart.autoencode.demo:autoencoder_stage"),
    )
)
