"""The one way any generative job is asked for images of a style: a `Generator` (the styles it
knows and how to draw ``n`` images of one) and `SampleOptions` (how many, which seed, and the
sampling knobs). Sample grids, evaluations and the web app take a `Generator`, whatever made it.
Plain data and a callable: no model library is imported here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from wikiart.errors import UnknownStyleError, WikiartError

#: A knob's value where neither the request nor the generator's defaults set it.
FALLBACK = {"guidance": 3.0, "steps": 25, "sampler": "ddim"}


@dataclass(frozen=True)
class SampleOptions:
    """How images are drawn: ``n`` per style from ``seed``, and the sampling knobs; a knob left
    ``None`` is the generator's own default (what its run was trained and sampled with)."""

    n: int = 8
    seed: int = 0
    guidance: float | None = None
    steps: int | None = None
    sampler: str | None = None
    batch_size: int = 64

    @classmethod
    def of(cls, settings: Any, n: int) -> SampleOptions:
        """``n`` per style with the knobs of a command's settings (`wikiart sample`'s,
        `wikiart evaluate`'s: ``seed``, ``guidance``, ``steps``, ``sampler``, ``batch_size``)."""
        knobs = ("seed", "guidance", "steps", "sampler", "batch_size")
        return cls(n=n, **{k: getattr(settings, k) for k in knobs})

    def settings(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """``guidance``, ``steps`` and ``sampler`` as asked, each ``None`` replaced by
        ``defaults``' (else `FALLBACK`'s) value, as given (what a report records)."""
        asked = {"guidance": self.guidance, "steps": self.steps, "sampler": self.sampler}
        return {k: defaults.get(k, FALLBACK[k]) if v is None else v for k, v in asked.items()}

    def settled(self, defaults: Mapping[str, Any] | None = None) -> SampleOptions:
        """These options with every knob set (see `settings`) and of its type."""
        s = self.settings(defaults or {})
        return replace(
            self, guidance=float(s["guidance"]), steps=int(s["steps"]), sampler=str(s["sampler"])
        )


#: ``draw(style, options)`` -> uint8 images ``[options.n, 3, H, W]``; every knob is set.
Draw = Callable[[str, SampleOptions], torch.Tensor]
#: ``draw_styles(styles, options)`` -> ``{style: draw(style, options)}``, drawn together.
DrawStyles = Callable[[list[str], SampleOptions], dict[str, torch.Tensor]]


@dataclass
class Generator:
    """A trained generator: the styles it can be asked for and how to draw images of one.
    ``defaults`` are its own sampling knobs; ``draw_styles``, where given, draws several styles
    in shared batches (the same images, faster); ``any_style``: every style name is understood (a
    text-to-image pipeline makes a caption of it)."""

    styles: list[str]
    image_size: int
    draw: Draw
    describe: str
    defaults: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    any_style: bool = False
    draw_styles: DrawStyles | None = None

    def check_style(self, style: str) -> None:
        """Refuse a style this generator does not know, naming those it does."""
        if not self.any_style and style not in self.styles:
            raise UnknownStyleError(
                f"unknown style {style!r}; this generator knows: {', '.join(self.styles)}"
            )

    def sample(self, style: str, options: SampleOptions) -> torch.Tensor:
        """``options.n`` uint8 images ``[n, 3, H, W]`` of ``style``; the same options, the same
        images."""
        return self.sample_styles([style], options)[style]

    def sample_styles(self, styles: list[str], options: SampleOptions) -> dict[str, torch.Tensor]:
        """`sample` of each of ``styles``, drawn together where the generator can batch them:
        ``{style: images}``, the images `sample` gives."""
        for style in styles:
            self.check_style(style)
        if options.n < 1:
            raise WikiartError(f"the number of images must be >= 1, got {options.n}")
        settled = options.settled(self.defaults)
        if self.draw_styles is None or len(styles) < 2:
            return {s: self.draw(s, settled) for s in styles}
        return self.draw_styles(list(styles), settled)

    def images(
        self,
        style: str,
        n: int,
        *,
        seed: int = 0,
        guidance: float | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        batch_size: int = 64,
    ) -> torch.Tensor:
        """`sample` with the options as keywords."""
        return self.sample(style, SampleOptions(n, seed, guidance, steps, sampler, batch_size))
