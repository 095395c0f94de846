"""Run by tests/test_distributed.py under torchrun (2 gloo processes on the CPU); not a test itself.

Writes, from rank 0: the gradients and loss of one distributed step on a fixed global batch, and the
weights and loss history of a short train_clip run.
"""
import sys
from pathlib import Path

import open_clip
import torch
from lightly.loss import NTXentLoss

import clipbook
from clipbook import distributed
from clipbook.data.drawings import PageCorpus
from clipbook.simclr import train_simclr


def global_batch():
    torch.manual_seed(123)
    pixels = torch.randn(8, 3, 32, 32)
    texts = open_clip.get_tokenizer("clipbook-tiny")([f"a photo of {i} red circles" for i in range(8)])
    return pixels, texts


def simclr_batch():
    torch.manual_seed(321)
    return torch.randn(8, 20), torch.randn(8, 20)


def without_batchnorm(cls):
    """A SimCLR model class whose BatchNorm layers are identities: torch syncs batch statistics across
    processes only on GPUs, so this is how the CPU test can demand exact equality of everything else."""
    class NoBatchNorm(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name, module in list(self.named_modules()):
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    parent = self.get_submodule(name.rsplit(".", 1)[0]) if "." in name else self
                    setattr(parent, name.rsplit(".", 1)[-1], torch.nn.Identity())
    return NoBatchNorm


def simclr_pages():
    return PageCorpus(page_size=64).dataset(32, seed=0, cache=False).images


def main(out: Path) -> None:
    ctx = distributed.setup("cpu")
    torch.manual_seed(0)
    model = open_clip.create_model("clipbook-tiny")
    net = distributed.wrap(model, ctx)
    loss_fn = open_clip.ClipLoss(local_loss=True, gather_with_grad=True, rank=ctx.rank, world_size=ctx.world_size)
    pixels, texts = global_batch()
    loss = loss_fn(*net(distributed.shard(pixels, ctx), distributed.shard(texts, ctx)))
    loss.backward()
    mean_loss = distributed.mean(loss, ctx)
    if ctx.is_main:
        torch.save({"loss": mean_loss, "grads": {n: p.grad for n, p in model.named_parameters()}}, out / "step.pt")

    # SimCLR's loss: lightly's NTXentLoss gathering both views' projections from every rank
    torch.manual_seed(0)
    head = torch.nn.Linear(20, 6)
    net = distributed.wrap(head, ctx)
    x0, x1 = simclr_batch()
    loss = NTXentLoss(temperature=0.2, gather_distributed=True)(net(distributed.shard(x0, ctx)),
                                                                 net(distributed.shard(x1, ctx)))
    loss.backward()
    mean_loss = distributed.mean(loss, ctx)
    if ctx.is_main:
        torch.save({"loss": mean_loss, "grads": {n: p.grad for n, p in head.named_parameters()}}, out / "ntxent.pt")
    import clipbook.simclr as simclr_module
    simclr_module.SimCLR = without_batchnorm(simclr_module.SimCLR)
    simclr = train_simclr(simclr_pages(), input_size=32, epochs=1, batch_size=8, device="cpu", cache=False,
                          progress=False, seed=3)
    if ctx.is_main:
        torch.save({"history": simclr.history}, out / "simclr.pt")

    data = clipbook.ShapesWorld(32).dataset(64, "train", seed=0, cache=False)
    result = clipbook.train_clip(data.images, data.all_captions(), "clipbook-tiny", epochs=1, batch_size=16,
                                 device="cpu", cache=False, progress=False, seed=3)
    if ctx.is_main:
        torch.save({"history": result.history, "state": result.model.state_dict()}, out / "train.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
