"""How a pipeline is asked for a style: a fixed caption per style ("a painting in the style of
Cubism", optionally preceded by a rare token of its own), the frozen text encoder's embedding of
each, and the captions a LoRA run recorded for its styles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from wikiart.errors import UnknownStyleError, WikiartError

#: The caption of a style when nothing else says how to ask for it.
DEFAULT_CAPTION = "a painting in the style of {style}"


def style_captions(
    styles: Sequence[str], template: str = DEFAULT_CAPTION, rare_tokens: bool = False
) -> dict[str, str]:
    """The caption of each style: ``template`` with ``{style}`` as its name (spaces for ``_``),
    with ``rare_tokens`` preceded by a token of its own (``sks0``, ``sks1``, ...)."""
    if "{style}" not in template:
        raise WikiartError(f"the caption template {template!r} lacks {{style}}")
    out = {}
    for i, name in enumerate(styles):
        try:
            text = template.format(style=name.replace("_", " "))
        except (KeyError, IndexError, ValueError) as exc:
            raise WikiartError(f"bad caption template {template!r}: {exc}") from None
        out[name] = f"sks{i} {text}" if rare_tokens else text
    return out


@torch.no_grad()
def encode_captions(pipe: Any, captions: Sequence[str]) -> torch.Tensor:
    """The frozen text encoder's embedding of each caption, ``[len, tokens, dim]``, by the
    pipeline's own ``encode_prompt`` (so training conditions exactly as sampling will)."""
    embeds, _ = pipe.encode_prompt(
        list(captions), pipe.text_encoder.device, 1, do_classifier_free_guidance=False
    )
    return embeds.detach()


def captions_for(
    info: dict[str, Any],
    styles: Sequence[str],
    folder: Path | None,
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """The caption of each requested style: the LoRA run's own (``folder``, ``info`` its
    ``lora.json``; a style it does not know is refused; all its styles when none is named), or
    the default template without a run; ``overrides`` on top."""
    styles = list(styles)
    if folder is None:
        if not styles:
            raise WikiartError("name the styles to sample (the base pipeline has no style list)")
        known = style_captions(styles)
    else:
        run_styles = [str(s) for s in info["styles"]]
        known = {**style_captions(run_styles), **dict(info.get("captions") or {})}
        unknown = [s for s in styles if s not in run_styles]
        if unknown:
            raise UnknownStyleError(
                f"unknown style {unknown[0]!r}; {folder} was trained on: {', '.join(run_styles)}"
            )
        styles = styles or run_styles
    return {s: (overrides or {}).get(s, known[s]) for s in dict.fromkeys(styles)}
