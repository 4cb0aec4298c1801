"""The adversarial term of `train vae --adversarial-weight`: a PatchGAN critic trained beside the
decoder (hinge loss, its own Adam), and the decoder's term against it, weighted adaptively so its
gradient at the decoder's last layer matches the reconstruction term's (Esser et al. 2021; the
recipe of Stable Diffusion's autoencoder). It sharpens what L1, squared error and perceptual
terms leave blurred. The loop keeps the critic's state in ``last.pt`` beside the decoder's (a
companion of `wikiart.train.loop.fit`), so ``--resume`` carries the pair on together."""

from __future__ import annotations

from typing import Any

import torch

from wikiart.models.patch_critic import PatchCritic, adaptive_weight, hinge_critic_loss

#: Steps between recomputations of the adaptive weight (two extra backward passes each).
REFRESH_EVERY = 10
#: Adam's betas for both players, as GANs are usually trained (Esser et al. 2021).
GAN_BETAS = (0.5, 0.9)


class AdversarialTerm:
    """``term(x, recon, reconstruction_loss)`` updates the critic on real ``x`` and ``recon``
    (detached), then returns ``weight`` x the adaptive weight x the decoder's adversarial loss
    (``-critic(recon)``, with the critic held fixed)."""

    def __init__(
        self, weight: float, lr: float, last_layer: torch.Tensor, device: torch.device
    ) -> None:
        self.weight = float(weight)
        self.last_layer = last_layer
        self.critic = PatchCritic().to(device)
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=GAN_BETAS)
        self.steps = 0
        self.scale = 0.0

    def __call__(
        self, x: torch.Tensor, recon: torch.Tensor, reconstruction_loss: torch.Tensor
    ) -> torch.Tensor:
        self._update_critic(x, recon)
        self.critic.requires_grad_(False)
        try:
            adversarial = -self.critic(recon.float()).mean()
        finally:
            self.critic.requires_grad_(True)
        if self.steps % REFRESH_EVERY == 0:
            w = adaptive_weight(reconstruction_loss, adversarial, self.last_layer)
            self.scale = float(w)
        self.steps += 1
        return self.weight * self.scale * adversarial

    def _update_critic(self, x: torch.Tensor, recon: torch.Tensor) -> None:
        with torch.autocast(x.device.type, enabled=False):
            loss = hinge_critic_loss(self.critic(x.float()), self.critic(recon.detach().float()))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "critic": self.critic.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "scale": self.scale,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.critic.load_state_dict(state["critic"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.scale = int(state["steps"]), float(state["scale"])
