"""The AdaIN decoder's objective (Huang & Belongie 2017) and the frozen features it is measured
in: a content term at the AdaIN taps against the AdaIN targets, and a style term, the channel
means and standard deviations at every tap of the loss network against the style image's,
optionally after SWAG smoothing."""

from __future__ import annotations

import torch
from torch import nn

from wikiart.errors import WikiartError
from wikiart.functional import channel_mean_std, content_loss, mean_std_loss, smooth_activations
from wikiart.models.efficientnet import EfficientNetLite
from wikiart.models.perceptual import LiteFeatures
from wikiart.models.transfer import StyleTransfer, decode_maps


def transfer_loss(
    model: StyleTransfer,
    content01: torch.Tensor,
    style01: torch.Tensor,
    *,
    style_weight: float = 10.0,
    content_weight: float = 1.0,
    identity_weight: float = 0.0,
    smoothing: float = 0.0,
    decoder: nn.Module | None = None,
    loss_net: nn.Module | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The AdaIN objective on one batch of ``[0, 1]`` content and style images:
    ``content_weight * sum_a ||f_a(g) - t_a||^2 + style_weight * sum_l (mean/std distance at
    tap l)``, where ``t_a`` are the AdaIN targets at the model's AdaIN taps ``a``, ``g`` their
    decoding and ``l`` every tap of ``loss_net`` (the model's encoder by default: taps up to the
    AdaIN layer; `loss_network` goes deeper). With ``identity_weight``, plus that times the L1
    distance between the content and the decoder's reconstruction of its own features
    (``alpha = 0``), both decoded in one call of ``decoder`` (the model's own, or it wrapped in
    DistributedDataParallel). Returns the loss and its parts."""
    net = loss_net if loss_net is not None else model.encoder
    taps = model.adain_taps
    with torch.no_grad():
        want = net(style01)
        fc = model.codes(content01)
        target = model.restyle(fc, *model.statistics([want[t] for t in taps]))
    dec = decoder if decoder is not None else model.decoder
    own = None
    if identity_weight > 0:  # one forward pass: DistributedDataParallel allows no second
        both = [torch.cat([t, f]) for t, f in zip(target, fc, strict=True)]
        decoded, own = decode_maps(dec, both, model.levels).split(len(content01))
    else:
        decoded = decode_maps(dec, target, model.levels)
    got = net(decoded)
    lc = sum((content_loss(got[t], want_t) for t, want_t in zip(taps, target, strict=True)),
             start=torch.zeros((), device=decoded.device))  # fmt: skip
    want_stats = [channel_mean_std(smooth_activations(w, smoothing)) for w in want]
    ls = mean_std_loss([smooth_activations(g, smoothing) for g in got], want_stats)
    loss = content_weight * lc + style_weight * ls
    parts = {"content": float(lc.detach()), "style": float(ls.detach())}
    if own is not None:
        li = (own.float() - content01.float()).abs().mean()
        loss = loss + identity_weight * li
        parts["identity"] = float(li.detach())
    return loss, parts


def loss_network(model: StyleTransfer, depth: int | None) -> nn.Module:
    """The frozen features the losses are measured in: the model's encoder (taps up to its
    AdaIN layer), or with ``depth`` beyond that layer the encoder continued to tap ``depth``
    (the deeper blocks from the offline ImageNet weights, the model's own blocks kept)."""
    if depth is None or depth <= model.layer:
        return model.encoder
    if model.config["encoder"] == "vgg19":
        raise WikiartError("with --encoder vgg19 the style loss goes no deeper than --layer")
    backbone = EfficientNetLite(model.config["encoder"])
    backbone.load_offline_weights()
    if not depth < len(backbone.taps):
        raise WikiartError(f"style depth must be {model.layer}..{len(backbone.taps) - 1}")
    net = LiteFeatures(backbone, depth=depth + 1)
    try:  # the model's own blocks over the ImageNet ones: every key of its encoder must fit
        net.load_state_dict({**net.state_dict(), **model.encoder.state_dict()})
    except RuntimeError:
        raise WikiartError("the model's encoder does not match the loss network's blocks") from None
    return net.to(model.style_mean.device)
