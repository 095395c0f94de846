"""Two gloo processes under torchrun give the loss, gradients and weights of one process on the same
global batch: negatives are gathered across ranks, not lost."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import open_clip
import pytest
import torch

import clipbook

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import global_batch, simclr_batch, simclr_pages  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), str(Path(__file__).with_name("ddp_worker.py")), str(out)]
    # full precision on both sides: the tests below ask whether sharding, gathering and averaging give one process's
    # arithmetic, and bf16 autocast (on CPUs with native bf16) rounds two half batches otherwise than one whole
    # (losses 6e-4 apart, measured on a Xeon with AMX)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CLIPBOOK_CPU_BF16": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {name: torch.load(out / f"{name}.pt", weights_only=True) for name in ("step", "train", "ntxent", "simclr")}


def test_distributed_loss_and_gradients_equal_one_process(two_ranks):
    step = two_ranks["step"]
    torch.manual_seed(0)
    model = open_clip.create_model("clipbook-tiny")
    pixels, texts = global_batch()
    loss = open_clip.ClipLoss()(*model(pixels, texts))
    loss.backward()
    assert step["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for name, p in model.named_parameters():
        assert torch.allclose(step["grads"][name], p.grad, rtol=1e-4, atol=1e-6), name


def test_train_clip_under_torchrun_matches_one_process(two_ranks, monkeypatch):
    monkeypatch.setenv("CLIPBOOK_CPU_BF16", "0")  # as the two ranks ran
    trained = two_ranks["train"]
    data = clipbook.ShapesWorld(32).dataset(64, "train", seed=0, cache=False)
    single = clipbook.train_clip(data.images, data.all_captions(), "clipbook-tiny", epochs=1, batch_size=16,
                                 device="cpu", cache=False, progress=False, seed=3)
    assert trained["history"]["loss"] == pytest.approx(single.history["loss"], rel=1e-4)
    # Compare what the models compute, not raw weights: attention key biases get a zero gradient in
    # exact arithmetic, so Adam turns float noise in them into +-lr steps that change no output.
    twin = open_clip.create_model("clipbook-tiny")
    twin.load_state_dict(trained["state"])
    pixels, texts = global_batch()
    with torch.no_grad():
        for ours, theirs in zip(twin.eval()(pixels, texts)[:2], single.model.eval()(pixels, texts)[:2]):
            assert torch.allclose(ours, theirs, atol=1e-4)


def test_batch_must_split_across_processes(monkeypatch):
    from clipbook import distributed

    ctx = distributed.Context(rank=0, world_size=3, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="batch_size=16 is not allowed with 3 processes"):
        distributed.check_divisible("batch_size", 16, ctx)


def test_ntxent_gathers_negatives_across_ranks(two_ranks):
    """lightly's NTXentLoss(gather_distributed=True) under DDP: loss and gradients of one process."""
    from lightly.loss import NTXentLoss

    torch.manual_seed(0)
    head = torch.nn.Linear(20, 6)
    x0, x1 = simclr_batch()
    loss = NTXentLoss(temperature=0.2)(head(x0), head(x1))
    loss.backward()
    got = two_ranks["ntxent"]
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-5)
    for name, p in head.named_parameters():
        assert torch.allclose(got["grads"][name], p.grad, rtol=1e-4, atol=1e-6), name


def test_train_simclr_under_torchrun_matches_one_process(two_ranks, monkeypatch):
    """train_simclr on two CPU processes against one: views drawn globally and sharded, negatives gathered,
    gradients averaged. BatchNorm is taken out on both sides (torch syncs its statistics across processes
    on GPUs only, where train_simclr converts it to SyncBatchNorm), so everything else must agree exactly."""
    import clipbook.simclr as simclr_module
    from ddp_worker import without_batchnorm

    monkeypatch.setattr(simclr_module, "SimCLR", without_batchnorm(simclr_module.SimCLR))
    monkeypatch.setenv("CLIPBOOK_CPU_BF16", "0")  # as the two ranks ran
    single = simclr_module.train_simclr(simclr_pages(), input_size=32, epochs=1, batch_size=8, device="cpu",
                                        cache=False, progress=False, seed=3)
    history = two_ranks["simclr"]["history"]
    assert history["step"] == single.history["step"] == [0, 1, 2, 3]
    assert history["loss"] == pytest.approx(single.history["loss"], rel=1e-4)
