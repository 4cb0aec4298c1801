"""MixUp and CutMix on uint8 batches: labels, weights, formats, determinism."""

import pytest
import torch
from torch import nn

from wikiart.train.mixing import mix_batch, mixed_loss


def _batch(n: int = 6, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    # image i is filled with the value 10 * i: every pixel says which image it came from
    x = torch.stack([torch.full((3, size, size), 10 * i, dtype=torch.uint8) for i in range(n)])
    return x, torch.arange(n)


def test_none_leaves_the_batch_alone() -> None:
    x, y = _batch()
    mx, partner, lam = mix_batch(x, y, "none")
    assert mx is x and lam == 1.0 and torch.equal(partner, y)


def test_cutmix_pastes_a_box_of_the_partner_and_lam_is_the_pixel_share() -> None:
    torch.manual_seed(3)
    x, y = _batch()
    mixed_rows = 0
    for _ in range(20):
        mx, partner, lam = mix_batch(x, y, "cutmix", alpha=1.0)
        assert mx.dtype == torch.uint8 and mx.shape == x.shape
        for i in range(len(y)):
            own = (mx[i] == 10 * i).float().mean().item()
            if partner[i] != y[i]:
                from_partner = (mx[i] == 10 * int(partner[i])).float().mean().item()
                assert own + from_partner == pytest.approx(1.0)
                assert own == pytest.approx(lam)
                mixed_rows += 1
        assert 0.0 <= lam <= 1.0
    assert mixed_rows > 20  # most rows got another image as partner, and were checked
    assert torch.equal(x, _batch()[0])  # the input batch is never modified in place


def test_mixup_blends_pixels_with_the_drawn_weight() -> None:
    torch.manual_seed(0)
    x, y = _batch()
    mx, partner, lam = mix_batch(x, y, "mixup", alpha=0.4)
    assert mx.dtype == torch.uint8 and 0.0 < lam < 1.0
    expected = (10 * y.float() * lam + 10 * partner.float() * (1 - lam)).round()
    assert torch.equal(mx[:, 0, 0, 0].float(), expected)


def test_channels_last_batches_stay_channels_last() -> None:
    x, y = _batch()
    x = x.contiguous(memory_format=torch.channels_last)
    for kind in ("mixup", "cutmix"):
        mx, _, _ = mix_batch(x, y, kind)
        assert mx.is_contiguous(memory_format=torch.channels_last)


def test_same_seed_same_mix() -> None:
    x, y = _batch()
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        outs.append(mix_batch(x, y, "cutmix"))
    assert torch.equal(outs[0][0], outs[1][0]) and outs[0][2] == outs[1][2]


def test_mixed_loss_weights_both_targets() -> None:
    criterion = nn.CrossEntropyLoss()
    logits = torch.randn(4, 3)
    y, partner = torch.tensor([0, 1, 2, 0]), torch.tensor([2, 2, 1, 1])
    got = mixed_loss(criterion, logits, y, partner, 0.3)
    want = 0.3 * criterion(logits, y) + 0.7 * criterion(logits, partner)
    assert torch.allclose(got, want)
    assert torch.equal(mixed_loss(criterion, logits, y, partner, 1.0), criterion(logits, y))


def test_unknown_mix_is_refused() -> None:
    x, y = _batch()
    with pytest.raises(ValueError, match="mixup"):
        mix_batch(x, y, "blend")
