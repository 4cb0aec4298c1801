"""Arbitrary style transfer (AdaIN, Huang & Belongie 2017) over the frozen ImageNet
EfficientNet-Lite0: decoder training (`wikiart train transfer`), painting any image in a named
style or like an exemplar (`wikiart transfer`). Its evaluation is the style generator's
(`wikiart.eval.repaint`): both re-render test images in other styles.

Data flows one way: training paintings -> the style bank and the decoder (`train`) ->
``model.pt`` -> `paint` (`stylize`)."""

from wikiart.transfer.config import BUILTIN, KIND, resolve_config
from wikiart.transfer.stylize import (
    Style,
    load_transfer,
    paint,
    resolve_style,
    style_statistics,
    transfer_command,
)
from wikiart.transfer.train import train_transfer, transfer_loss

__all__ = [
    "BUILTIN",
    "KIND",
    "Style",
    "load_transfer",
    "paint",
    "resolve_config",
    "resolve_style",
    "style_statistics",
    "train_transfer",
    "transfer_command",
    "transfer_loss",
]
