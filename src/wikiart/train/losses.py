"""Classification losses, one per ``--imbalance`` choice (`make_loss`).

The losses are `nn.Module`s whose class statistics are buffers, so ``loss.to(device)`` moves them
with the model and they never need to be rebuilt on another device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wikiart.config import IMBALANCE
from wikiart.data.balance import class_weights, log_priors
from wikiart.errors import WikiartError


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted softmax cross-entropy (Menon et al., 2021, "Long-tail learning via logit
    adjustment"): ``CE(logits + tau * log_prior, y)``.

    Adding the log prior during training makes the model's *raw* logits estimate the balanced
    (class-uniform) posterior. At inference the raw logits are used unchanged: the adjustment is
    training-only, and that is what makes the plain ``argmax`` balanced at test time. Do not apply
    this loss's adjustment when predicting.
    """

    log_prior: torch.Tensor

    def __init__(
        self,
        log_prior: torch.Tensor,
        tau: float = 1.0,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        prior = torch.as_tensor(log_prior, dtype=torch.float32)
        if prior.ndim != 1:
            raise WikiartError(f"log_prior must be 1-D, got shape {tuple(prior.shape)}")
        self.register_buffer("log_prior", prior.clone())
        self.tau = float(tau)
        self.label_smoothing = float(label_smoothing)
        self.reduction = reduction

    @classmethod
    def from_counts(
        cls, counts: np.ndarray, tau: float = 1.0, label_smoothing: float = 0.0
    ) -> LogitAdjustedLoss:
        """The loss for a training split with these per-class image counts."""
        return cls(log_priors(counts), tau=tau, label_smoothing=label_smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        num = self.log_prior.shape[0]
        if logits.shape[-1] != num:
            raise ValueError(f"logits have {logits.shape[-1]} classes but the prior has {num}")
        adjusted = logits + self.tau * self.log_prior.to(logits.dtype)
        return F.cross_entropy(
            adjusted, target, label_smoothing=self.label_smoothing, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        num = self.log_prior.shape[0]
        return f"classes={num}, tau={self.tau}, label_smoothing={self.label_smoothing}"


def make_loss(
    kind: str,
    counts: np.ndarray | None,
    *,
    label_smoothing: float = 0.0,
    weight_scheme: str = "inverse",
    beta: float = 0.999,
    tau: float = 1.0,
) -> nn.Module:
    """The training loss for an ``--imbalance`` choice; ``counts`` are the training split's images
    per class (needed by ``weighted-loss`` and ``logit-adjust`` only).

    ``none``, ``resample`` and ``sampler`` use plain cross-entropy: the latter two balance the data
    the loss sees, so weighting the loss too would correct the imbalance twice. Move the result to
    the model's device with ``.to(device)`` (its weights/priors are buffers)."""
    if kind not in IMBALANCE:
        raise WikiartError(f"unknown imbalance strategy {kind!r}; expected one of {IMBALANCE}")
    if kind in ("none", "resample", "sampler"):
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if counts is None:
        raise WikiartError(f"imbalance strategy {kind!r} needs the training class counts")
    if kind == "weighted-loss":
        weight = class_weights(counts, scheme=weight_scheme, beta=beta)
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
    return LogitAdjustedLoss.from_counts(counts, tau=tau, label_smoothing=label_smoothing)
