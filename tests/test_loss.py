"""The plain-torch symmetric cross-entropy written in notebook 01 equals open_clip's ClipLoss."""
import json
from pathlib import Path

import open_clip
import pytest
import torch
import torch.nn.functional as F

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "01_contrastive_pretraining.ipynb"


@pytest.fixture(scope="module")
def clip_loss():
    """The notebook's own teaching cell (tagged 'teaching-loss'), executed on its own."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    (cell,) = [c for c in cells if "teaching-loss" in c.get("metadata", {}).get("tags", [])]
    namespace = {"torch": torch, "F": F}
    exec("".join(cell["source"]), namespace)
    return namespace["clip_loss"]


@pytest.mark.parametrize("n, dim, scale", [(2, 8, 1.0), (8, 64, 14.3), (64, 128, 100.0)])
def test_value_and_gradients_equal_open_clip(clip_loss, n, dim, scale):
    torch.manual_seed(n)
    img = F.normalize(torch.randn(n, dim), dim=-1).requires_grad_()
    txt = F.normalize(torch.randn(n, dim), dim=-1).requires_grad_()
    s = torch.tensor(scale, requires_grad=True)
    ours = clip_loss(img, txt, s)
    grads = torch.autograd.grad(ours, (img, txt, s))
    theirs = open_clip.ClipLoss()(img, txt, s)
    ref = torch.autograd.grad(theirs, (img, txt, s))
    assert torch.allclose(ours, theirs, atol=1e-6)
    for a, b in zip(grads, ref):
        assert torch.allclose(a, b, atol=1e-6)


def test_perfect_alignment_beats_chance(clip_loss):
    feats = torch.eye(16)
    assert clip_loss(feats, feats, torch.tensor(100.0)) < 1e-3
    assert torch.isclose(clip_loss(feats, torch.ones(16, 16) / 4, torch.tensor(1.0)), torch.log(torch.tensor(16.0)))
