"""The autoencoder's reconstruction loss, comparing reconstructions with the input in ``[0, 1]``
(never 0-255 pixels): MSE, plus optionally ``1 - SSIM`` (`wikiart.functional.ssim`) or a
perceptual term on frozen pretrained features (`wikiart.models.perceptual`), which keep edges
and texture that MSE blurs away."""

from __future__ import annotations

import torch
from torch import nn

from wikiart.autoencode.settings import AE_LOSSES
from wikiart.errors import WikiartError
from wikiart.functional import ssim
from wikiart.models.perceptual import perceptual_distance


class ReconstructionLoss(nn.Module):
    """``(reconstruction, target) -> (loss, parts)``, both in ``[0, 1]``, computed in fp32.

    ``mse``: mean squared error. ``mse+ssim``: ``mse + ssim_weight * (1 - SSIM)``.
    ``mse+perceptual``: ``mse + perceptual_weight * perceptual_distance`` on the ``perceptual``
    feature extractor (`wikiart.models.perceptual.perceptual_features`, frozen)."""

    def __init__(
        self,
        name: str = "mse",
        ssim_weight: float = 0.5,
        perceptual: nn.Module | None = None,
        perceptual_weight: float = 0.1,
    ) -> None:
        super().__init__()
        if name not in AE_LOSSES:
            raise WikiartError(f"unknown autoencoder loss {name!r}; expected one of {AE_LOSSES}")
        if name == "mse+perceptual" and perceptual is None:
            raise WikiartError("the mse+perceptual loss needs a feature extractor")
        self.name = name
        self.ssim_weight = ssim_weight
        self.perceptual = perceptual
        self.perceptual_weight = perceptual_weight

    def forward(
        self, recon: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        recon, target = recon.float(), target.float()
        mse = torch.mean((recon - target) ** 2)
        parts = {"mse": mse.detach()}
        if self.name == "mse+ssim":
            s = ssim(recon, target).mean()
            parts["ssim"] = s.detach()
            return mse + self.ssim_weight * (1 - s), parts
        if self.name == "mse+perceptual":
            p = perceptual_distance(self.perceptual, recon, target)  # type: ignore[arg-type]
            parts["perceptual"] = p.detach()
            return mse + self.perceptual_weight * p, parts
        return mse, parts
