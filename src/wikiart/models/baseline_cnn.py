"""``baseline-cnn``: the course project's improved classifier, re-implemented (the reproduction
baseline).

What the course code is known to be: the course baseline ``WikiArtModel`` was one
``Conv2d(3, 1, (4, 4), padding=2)`` -> ``MaxPool2d((4, 4), padding=2)`` -> flatten ->
``BatchNorm1d(105 * 105)`` -> ``Linear(.., 300)`` -> dropout -> ReLU -> ``Linear(300, classes)`` ->
``LogSoftmax`` on 416 px images, and the course's improved model had "three 4x4 convs to a 100-d
embedding, then the classifier". Assumed here (its exact widths are not available):

- three stages of ``Conv2d(k=4, padding=2)`` -> ReLU -> ``MaxPool2d(4, padding=2)``, the baseline's
  own layer pair repeated, with 16, 32 and 64 channels (416 px -> 105 -> 27 -> 8, the first stage
  reproducing the baseline's 105 x 105 map). Computed as conv -> max-pool -> ReLU: the same
  function and the same gradients (ReLU is monotone, so it commutes with a max, and the pool's
  padding is -inf), with the ReLU and its backward on a map 16x smaller. At 416 px that trains
  28% faster (bench/train_throughput.py); the checkpoint keys are unchanged;
- ``AdaptiveAvgPool2d(4)`` before the flatten (not in the course model, which was tied to
  416 px): any input from 32 px up works, 64 px and 416 px alike;
- flatten -> ``BatchNorm1d`` -> ``Linear(1024, 100)`` -> ReLU: the 100-d embedding; the course
  model's dropout sat before that ReLU, which is the same function as `StyleClassifier`'s
  dropout after it (ReLU and inverted dropout commute);
- no ``LogSoftmax``: the head returns logits, and cross-entropy on logits equals the course
  model's NLL on log-softmax outputs;
- ImageNet mean/std normalisation of the input, where the course code fed raw 0-255 floats (the
  BatchNorm1d after the convs hides most of that difference; this keeps one preprocessing for all
  archs).

Like the course model, the ``BatchNorm1d`` cannot train on a batch of one: train with ``drop_last``.
"""

from __future__ import annotations

import torch
from torch import nn

from wikiart.models.backbone import Backbone


class BaselineCNN(Backbone):
    """Three 4x4 conv stages -> 100-d embedding (see the module docstring for what is assumed)."""

    def __init__(
        self,
        channels: tuple[int, ...] = (16, 32, 64),
        embedding_dim: int = 100,
        pooled: int = 4,
    ) -> None:
        super().__init__()
        stages: list[nn.Module] = []
        cin = 3
        for cout in channels:
            stages.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, kernel_size=4, padding=2),
                    nn.MaxPool2d(kernel_size=4, padding=2),
                    nn.ReLU(inplace=True),  # after the pool: see the module docstring
                )
            )
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(pooled)
        self.flatten = nn.Flatten()
        self.norm = nn.BatchNorm1d(cin * pooled * pooled)
        self.fc = nn.Linear(cin * pooled * pooled, embedding_dim)
        self.act = nn.ReLU()
        self.embedding_dim = embedding_dim

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return [list(s.parameters()) for s in self.stages] + [
            [*self.norm.parameters(), *self.fc.parameters()]
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.pool(self.stages(x)))
        return self.act(self.fc(self.norm(x)))
