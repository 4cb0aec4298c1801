"""Arbitrary style transfer (AdaIN, Huang & Belongie 2017) over the frozen ImageNet
EfficientNet-Lite0: decoder training (`wikiart train transfer`), painting any image in a named
style or like an exemplar (`wikiart transfer`). Its evaluation is the style generator's
(`wikiart.eval.repaint`): both re-render test images in other styles.

Data flows one way: training paintings -> the style bank and the decoder (`train`) ->
``model.pt`` -> `paint` (`stylize`)."""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "BUILTIN": "wikiart.transfer.settings",
    "KIND": "wikiart.transfer.settings",
    "Style": "wikiart.transfer.stylize",
    "load_transfer": "wikiart.transfer.stylize",
    "paint": "wikiart.transfer.stylize",
    "resolve_config": "wikiart.transfer.settings",
    "resolve_style": "wikiart.transfer.stylize",
    "style_statistics": "wikiart.transfer.stylize",
    "train_transfer": "wikiart.transfer.train",
    "transfer_command": "wikiart.transfer.stylize",
    "transfer_loss": "wikiart.transfer.losses",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
