"""Run by tests/test_distributed.py under torchrun (2 gloo processes on the CPU); not a test itself.

Writes, from rank 0: the gradients and loss of one distributed step on a fixed global batch, and the
weights and loss history of a short train_clip run.
"""
import sys
from pathlib import Path

import open_clip
import torch

import clipbook
from clipbook import distributed


def global_batch():
    torch.manual_seed(123)
    pixels = torch.randn(8, 3, 32, 32)
    texts = open_clip.get_tokenizer("clipbook-tiny")([f"a photo of {i} red circles" for i in range(8)])
    return pixels, texts


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

    data = clipbook.ShapesWorld(32).dataset(64, "train", seed=0, cache=False)
    result = clipbook.train_clip(data.images, data.all_captions(), "clipbook-tiny", epochs=1, batch_size=16,
                                 device="cpu", cache=False, progress=False, seed=3)
    if ctx.is_main:
        torch.save({"history": result.history, "state": result.model.state_dict()}, out / "train.pt")
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
