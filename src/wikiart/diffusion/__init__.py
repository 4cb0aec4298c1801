"""Diffusion: a class-conditional pixel diffusion model trained from scratch (`wikiart train
diffusion`), LoRA adapters on it or on a Hugging Face pipeline (`wikiart train lora`), sampling
(`wikiart sample`) and an evaluation by an independent judge (`wikiart evaluate`).

Cut by role: the noise process (`noise`: schedule, loss; `sampling`: the samplers and guided
denoising), the adapters (`adapters`: LoRA layers, adapter-only checkpoints, loading), the
Hugging Face pipeline path (`pipeline`, `captions`, `pipeline_sample`, `pipeline_lora`), the
trainers on the shared loop (`train`, `lora`), and the way to ask a trained model for images
(`generate`: a `wikiart.eval.generator.Generator`; `sample`: `wikiart sample`). Data flows one
way: training images -> ``model.pt`` -> adapters -> a `Generator` -> sample grids and
``diffusion_eval.json`` (`evaluate`). Needs the ``diffusion`` extra.
"""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "Generator": "wikiart.eval.generator",
    "KIND": "wikiart.diffusion.settings",
    "LORA_KIND": "wikiart.diffusion.settings",
    "open_generator": "wikiart.diffusion.generate",
    "resolve_config": "wikiart.diffusion.settings",
    "resolve_lora_config": "wikiart.diffusion.settings",
    "sample_command": "wikiart.diffusion.sample",
    "train_diffusion": "wikiart.diffusion.train",
    "train_lora": "wikiart.diffusion.lora",
    "write_sample_grid": "wikiart.diffusion.sample",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
