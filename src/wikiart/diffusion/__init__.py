"""Diffusion: a class-conditional pixel diffusion model trained from scratch (`wikiart train
diffusion`), LoRA adapters on it or on a Hugging Face pipeline (`wikiart train lora`), sampling
(`wikiart sample`) and an evaluation by an independent judge (`wikiart evaluate`).

Data flows one way: training images -> `StyleDiffusion` (`train`) -> ``model.pt`` -> adapters
(`lora`, `pipeline`) -> a `Generator` (`generate`) -> sample grids and ``diffusion_eval.json``
(`evaluate`). Needs the ``diffusion`` extra.
"""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "Generator": "wikiart.diffusion.generate",
    "KIND": "wikiart.diffusion.settings",
    "LORA_KIND": "wikiart.diffusion.settings",
    "open_generator": "wikiart.diffusion.generate",
    "resolve_config": "wikiart.diffusion.settings",
    "resolve_lora_config": "wikiart.diffusion.settings",
    "sample_command": "wikiart.diffusion.generate",
    "train_diffusion": "wikiart.diffusion.train",
    "train_lora": "wikiart.diffusion.lora",
    "write_sample_grid": "wikiart.diffusion.generate",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
