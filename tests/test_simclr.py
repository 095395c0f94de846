"""train_simclr on tiny data: it runs and learns, views are sane, checkpoints are safe and reused, errors are clear."""
import math

import numpy as np
import pytest
import torch

import clipbook
from clipbook import search, simclr
from clipbook import engine
from clipbook.preprocess import images_to_tensor
from clipbook.data.drawings import PageCorpus

TINY = dict(input_size=32, epochs=1, batch_size=16, device="cpu", progress=False)


@pytest.fixture(scope="module")
def pages():
    return PageCorpus(page_size=64).dataset(48, seed=0, cache=False).images


def test_one_epoch_checkpoint_and_reuse(pages, tmp_data):
    r = simclr.train_simclr(pages, **TINY)
    assert not r.loaded and r.checkpoint.is_file() and r.checkpoint.parent == tmp_data / "checkpoints"
    assert r.model_name == simclr.SIMCLR_MODEL and r.tokenizer is None
    assert r.history["step"] == [0, 1, 2] and all(math.isfinite(v) for v in r.history["loss"])
    # NT-Xent of a random network on 2 x 16 views sits near ln(2 * 16 - 1)
    assert r.initial_loss == pytest.approx(math.log(31), rel=0.25)
    assert r.samples_seen == 48 and r.train_seconds > 0
    info = clipbook.checkpoint_info(r.checkpoint)
    assert info["model"] == simclr.SIMCLR_MODEL and info["history"]["loss"] == r.history["loss"]
    assert info["params"]["input_size"] == 32
    # the same pages and parameters load the checkpoint instead of training
    again = simclr.train_simclr(pages, **TINY)
    assert again.loaded and again.checkpoint == r.checkpoint and again.history == r.history
    assert again.train_seconds == r.train_seconds
    for (k, a), b in zip(r.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), k
    feats = simclr.encode_pages(again.model, pages[:5], "cpu")
    assert feats.shape == (5, 512) and torch.allclose(feats.norm(dim=1), torch.ones(5))
    enc = search.load_encoder(f"simclr:{r.checkpoint}", device="cpu")
    assert enc.name == f"simclr:{r.checkpoint.stem}" and np.allclose(enc.encode(pages[:5]), feats.numpy(), atol=1e-5)
    # a corrupted cache entry is reported and retrained, not trusted
    r.checkpoint.write_bytes(b"broken")
    redone = simclr.train_simclr(pages, **TINY)
    assert not redone.loaded and clipbook.checkpoint_info(redone.checkpoint)["model"] == simclr.SIMCLR_MODEL
    assert not list((tmp_data / "checkpoints").glob(".*.tmp"))


def test_cache_key_covers_pages_and_parameters(pages):
    x = images_to_tensor(pages)
    key = engine.fingerprint({"lr": 1e-3}, x)
    assert key == engine.fingerprint({"lr": 1e-3}, x.clone())
    assert key != engine.fingerprint({"lr": 2e-3}, x)
    other = x.clone()
    other[0, 0, 0, 0] ^= 1
    assert key != engine.fingerprint({"lr": 1e-3}, other)


@pytest.mark.parametrize("backbone", simclr.SIMCLR_BACKBONES)
def test_training_learns_to_match_views(pages, backbone):
    """Training cuts the NT-Xent loss of two fixed views of every page (the same views before and after, all
    48 pages in one batch) well below the untrained network's: the two views of a page find each other. The
    per-step training loss is too noisy at this size (16 pages a batch) to show it reliably."""
    x = images_to_tensor(pages)
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        augment = simclr.DrawingAugment(32)
        views = augment(x, gen), augment(x, gen)
    loss = simclr.make_loss(0.2)

    def fixed_view_loss(model):
        model.train()  # batch statistics, as in training
        with torch.no_grad():
            return loss(model(views[0]), model(views[1])).item()

    clipbook.seed_everything(0)
    before = fixed_view_loss(simclr.SimCLR(32, backbone=backbone))  # the network train_simclr starts from
    r = simclr.train_simclr(pages, backbone=backbone, input_size=32, epochs=15, batch_size=16, lr=2e-3, device="cpu",
                            cache=False, progress=False, seed=0)
    after = fixed_view_loss(r.model)
    assert after < 0.85 * before, (before, after)  # 4.64 -> 3.35 when measured; seeds 1 and 2 gave 0.83, 0.78


def test_augmented_views_are_pages():
    augment = simclr.DrawingAugment(40)
    x = images_to_tensor(PageCorpus(64).dataset(8, seed=0, drawings_only=True, cache=False).images)
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    c = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == (8, 3, 40, 40) and torch.equal(a, b) and not torch.equal(a, c)
    pixels = a * augment.std + augment.mean
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    # views stay mostly paper: over 40 generators every view's median was at least 0.48 (a crop into a hatched
    # section of these 64-px pages can be half ink) and the views' mean median 0.90; an inverted or black view: ~0
    medians = pixels.flatten(1).median(1).values
    assert (medians > 0.4).all() and medians.mean() > 0.8, medians
    # random erasing, off by default (it can blank a sheet's small views), still draws views of pages when asked
    erased = simclr.DrawingAugment(40, p_erase=1.0)
    e = erased(x, torch.Generator().manual_seed(0)) * erased.std + erased.mean
    assert e.shape == a.shape and not torch.equal(e, pixels)
    assert e.min() >= -1e-6 and e.max() <= 1 + 1e-6 and (e.flatten(1).median(1).values > 0.4).all()


def test_training_shrinks_each_page_once_into_the_same_views():
    """The trainer shrinks every page and measures its paper tone once (`_shrink_all`) and draws views from
    that; the views are the ones `DrawingAugment` draws from the uint8 pages, and the 3x3 darkest-neighbour
    filter is max-pooling's, exactly."""
    from clipbook.preprocess import min_filter
    from clipbook.simclr import _shrink_all

    augment = simclr.DrawingAugment(24)
    x = images_to_tensor(PageCorpus(64).dataset(12, seed=0, cache=False).images)
    shrunk, paper = _shrink_all(augment, x)
    assert shrunk.shape == (12, 3, 48, 48) and torch.equal(shrunk, augment.shrink(x))
    assert paper.shape == (12, 1, 1, 1) and torch.equal(paper, augment.paper_level(shrunk))
    assert 0.8 < paper.min() <= paper.max() <= 1  # the pages' paper is bright, whatever they show
    expected = augment(x[3:9], torch.Generator().manual_seed(5))
    for measured in (None, paper[3:9]):  # paper levels measured once per page, or by the views themselves
        assert torch.equal(augment.views(shrunk[3:9], torch.Generator().manual_seed(5), measured), expected)
    assert _shrink_all(augment, x, max_bytes=1000) is None  # over the budget: each batch shrinks its own pages
    assert _shrink_all(simclr.DrawingAugment(32), x) is None  # 64-px pages do not shrink for a 32-px input
    f = torch.rand(5, 3, 17, 13)
    for k in (1, 3, 5, 7):  # 3 for the views; the search encoders use wider filters for bigger shrinks
        assert torch.equal(min_filter(f, k), -torch.nn.functional.max_pool2d(-f, k, stride=1, padding=k // 2))


def test_loss_is_lightly_ntxent_in_one_place():
    loss = simclr.make_loss(0.2)
    assert type(loss).__name__ == "NTXentLoss" and loss.temperature == 0.2 and not loss.gather_distributed
    z = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    assert loss(z, z).item() < simclr.make_loss(0.2)(z, torch.randn(8, 16)).item()


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs=0 is not allowed"),
    (dict(batch_size=1), "batch_size=1 is not allowed: a contrastive batch needs at least 2"),
    (dict(batch_size=100), "batch_size=100 is not allowed: it must be at most the 48"),
    (dict(lr=-1.0), "lr=-1.0 is not allowed"),
    (dict(temperature=0), "temperature=0 is not allowed"),
    (dict(device="cuda:7"), "DEVICE='cuda:7'"),
    (dict(compile=None), "compile=None is not allowed: choose one of False, True"),
    (dict(backbone="vit"), "backbone='vit' is not allowed: choose one of 'resnet18', 'convnet'"),
])
def test_bad_arguments(pages, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simclr.train_simclr(pages, **{**TINY, "cache": False, **kwargs})
    with pytest.raises(ValueError, match="uint8 RGB images"):
        simclr.train_simclr(pages.astype(np.float32), **{**TINY, "cache": False})


def test_compile_trains_the_model_it_saves(pages, monkeypatch):
    """As for train_clip: compile=True (here AOTAutograd's eager backend, seconds on a CPU) gives the eager
    run's losses and weights, on the plain model that is returned."""
    real, calls = torch.compile, []

    def aot_eager(model, **kwargs):
        calls.append(model)
        return real(model, backend="aot_eager", **kwargs)

    monkeypatch.setattr(torch, "compile", aot_eager)
    eager = simclr.train_simclr(pages, **TINY, cache=False)
    compiled = simclr.train_simclr(pages, **TINY, cache=False, compile=True)
    assert len(calls) == 1 and calls[0] is compiled.model
    np.testing.assert_allclose(compiled.history["loss"], eager.history["loss"], rtol=1e-4)
    for (k, a), b in zip(eager.model.state_dict().items(), compiled.model.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-5, msg=k)


def test_the_convnet_backbone_saves_loads_and_searches(pages, tmp_data):
    """backbone="convnet" is recorded in the checkpoint: reloaded and searched with its own 256-d features."""
    r = simclr.train_simclr(pages, **TINY, backbone="convnet")
    assert r.model.backbone_name == "convnet" and r.model.feature_dim == 256
    assert clipbook.checkpoint_info(r.checkpoint)["params"]["backbone"] == "convnet"
    loaded = simclr.load_simclr(r.checkpoint, "cpu")
    assert loaded.backbone_name == "convnet"
    enc = search.load_encoder(f"simclr:{r.checkpoint}", device="cpu")
    feats = enc.encode(pages[:4])
    assert enc.dim == 256 and feats.shape == (4, 256)
    np.testing.assert_allclose(feats, search.encoder_from_result(r, "cpu").encode(pages[:4]), atol=1e-5)
    # another backbone is another checkpoint, not this one loaded
    other = simclr.train_simclr(pages, **TINY)
    assert not other.loaded and other.checkpoint != r.checkpoint and other.model.backbone_name == "resnet18"


def test_a_checkpoint_from_before_the_backbone_choice_loads_as_a_resnet18(tmp_path):
    """Checkpoints written before the backbone became a parameter are named 'simclr-resnet18' and record no
    backbone: they load as the ResNet-18 they hold."""
    clipbook.seed_everything(0)
    old = simclr.SimCLR(32)
    path = clipbook.save_checkpoint(old, tmp_path / "old.safetensors", "simclr-resnet18",
                                    {"params": {"input_size": 32, "projection_dim": 128}})
    loaded = simclr.load_simclr(path, "cpu")
    assert loaded.backbone_name == "resnet18" and loaded.feature_dim == 512 and loaded.input_size == 32
    for (k, a), b in zip(old.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_an_unsaved_model_searches_named_by_its_weights(pages):
    """cache=False leaves no checkpoint: the encoder is named by a hash of the weights, BatchNorm's 0-d step
    counters included (hashing them failed before)."""
    r = simclr.train_simclr(pages, **TINY, cache=False)
    assert r.checkpoint is None
    enc = search.encoder_from_result(r, "cpu")
    assert enc.name.startswith(f"simclr:{simclr.SIMCLR_MODEL}-") and enc.spec is None
    assert enc.name == search.encoder_from_result(r, "cpu").name
    direct = simclr.encode_pages(r.model, search.thicken_strokes(pages[:3], 32), "cpu")
    np.testing.assert_allclose(enc.encode(pages[:3]), direct.numpy(), atol=1e-5)


def test_a_clip_checkpoint_is_not_a_simclr_one(tmp_path):
    model, _, _ = clipbook.create_clip("clipbook-tiny")
    path = clipbook.save_checkpoint(model, tmp_path / "clip.safetensors", "clipbook-tiny")
    with pytest.raises(ValueError, match="holds a 'clipbook-tiny' model, not 'simclr'"):
        simclr.load_simclr(path)
