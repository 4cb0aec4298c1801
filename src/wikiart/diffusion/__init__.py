"""Diffusion: a class-conditional pixel diffusion model trained from scratch (`wikiart train
diffusion`), LoRA adapters on it or on a Hugging Face pipeline (`wikiart train lora`), sampling
(`wikiart sample`) and an evaluation by an independent judge (`wikiart evaluate`).

Data flows one way: training images -> `StyleDiffusion` (`train`) -> ``model.pt`` -> adapters
(`lora`, `pipeline`) -> a `Generator` (`generate`) -> sample grids and ``diffusion_eval.json``
(`evaluate`). Needs the ``diffusion`` extra.
"""

from wikiart.diffusion.config import KIND, LORA_KIND, resolve_config, resolve_lora_config
from wikiart.diffusion.generate import open_generator
from wikiart.diffusion.lora import train_lora
from wikiart.diffusion.sample import sample_command, write_sample_grid
from wikiart.diffusion.train import train_diffusion
from wikiart.eval.generator import Generator

__all__ = [
    "KIND",
    "LORA_KIND",
    "Generator",
    "open_generator",
    "resolve_config",
    "resolve_lora_config",
    "sample_command",
    "train_diffusion",
    "train_lora",
    "write_sample_grid",
]
