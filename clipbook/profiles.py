"""Every notebook's knobs per profile, in one registry: "quick" (minutes on a CPU) and "full" (one GPU).

A notebook takes its table with ``profile_knobs(table, PROFILE, **overrides)``; a parameter left at ``None``
takes the profile's value. The library's own entry points read the same tables: ``workbook_clip`` and
``python -m clipbook train`` the "pretraining" one, the search tool's ``simclr`` encoder the "simclr" one.
"""
from __future__ import annotations

from typing import Any

from .utils import check_choice, pick

PROFILE_TABLES: dict[str, dict[str, dict[str, Any]]] = {
    # notebook 01, and the workbook CLIP every later notebook loads (or trains) through `workbook_clip`. Quick:
    # 16,384 images x 5 epochs trained in 126-143 s on two threads of a Xeon with AMX, text->image recall@1
    # 0.65-0.73 over seeds 0-2; 12,288 x 4 (the recipe before) stayed at 0.57 and 12,288 x 5 at 0.60
    # (benchmarks/RESULTS.md, issue 12). Full: clipbook-tiny on the 32-px world, as the quick profile. With this
    # recipe it reached image->text recall@1 0.949 on the 2,000 validation pairs (notebook 01 on two CPU threads,
    # fp32, seed 0) and held-out zero-shot 0.992 (notebook 02), where clipbook-small on the 64-px world reached
    # 0.818 on an H100 (benchmarks/RESULTS.md, "2026-11-28 (night)"). The full profile clips the gradients' global
    # norm at 1.0: its loss spikes followed gradient-norm spikes of up to 132, and clipped, seeds 0 / 1 reached
    # recall@1 0.966 / 0.976 (t->i 0.926 / 0.958) against 0.949 / 0.947 unclipped. The quick profile does not: at
    # batch 64 the median norm is 4.7, so 1.0 clips almost every step, and recall@1 fell (benchmarks/RESULTS.md,
    # "2026-11-29 (later)")
    "pretraining": {
        # sweep_epochs: each batch-size sweep run's epochs. On an H100 the full profile's sweep at its 10 epochs
        # (62,500 optimizer steps at batch 32) was still on its first run when a 255-s call ended; at 2: 12,500.
        "quick": dict(model="clipbook-tiny", n_train=16_384, n_val=1_000, epochs=5, batch_size=64, lr=5e-4,
                      grad_clip_norm=None, sweep=[], sweep_epochs=5),
        "full": dict(model="clipbook-tiny", n_train=200_000, n_val=2_000, epochs=10, batch_size=1024, lr=2e-3,
                     grad_clip_norm=1.0, sweep=[32, 128, 512, 2048], sweep_epochs=2),
    },
    # notebook 02: test images per class, labelled images per class for the probes, k-shot draws
    "zero_shot": {
        "quick": dict(n_test=30, n_probe=32, draws=5),
        "full": dict(n_test=100, n_probe=100, draws=10),
    },
    # notebook 03: images per class in each of the selection and evaluation splits
    "prompts": {
        "quick": dict(n_per_class=20),
        "full": dict(n_per_class=100),
    },
    # notebook 04's archive: pages, query drawings, page side, correlation sweep, occlusion maps, t-SNE points,
    # scan-realism sweep (on sweep_pages pages)
    "drawings": {
        "quick": dict(n_pages=2_000, n_queries=300, page_size=128, sweep=[0.0, 0.5, 1.0], sweep_pages=600,
                      occlusion=3, tsne_points=600, realism_sweep=[0.0, 0.5, 1.0]),
        "full": dict(n_pages=20_000, n_queries=2_000, page_size=224, sweep=[0.0, 0.25, 0.5, 0.75, 1.0],
                     sweep_pages=4_000, occlusion=6, tsne_points=2_000, realism_sweep=[0.0, 0.25, 0.5, 0.75, 1.0]),
    },
    # train_simclr in notebook 04 and the search tool's `simclr` encoder. Quick: the plain convnet, 139 s on one
    # thread of an EPYC with AVX512-BF16 under make test; on scanned pages (SCAN_REALISM=1) SimCLR is starved of
    # steps: 12 epochs left the convnet and the ResNet-18 alike too close to raw pixels, 30 of the convnet (in less
    # time than 12 of the ResNet) did not, and batch 64 (twice the steps for 7-10% more time) searched 9% better
    # than 128 over seeds 0-3; 40 epochs instead of 30 (1.34x the time) took it from 3.93-4.48x chance to
    # 4.08-4.57x over seeds 0-7, past issue 13's 4x at every seed (benchmarks/RESULTS.md). Full: the seed's ResNet-18
    "simclr": {
        "quick": dict(backbone="convnet", input_size=48, epochs=40, batch_size=64, lr=2e-3, temperature=0.2),
        "full": dict(backbone="resnet18", input_size=128, epochs=30, batch_size=512, lr=2e-3, temperature=0.2),
    },
    # notebook 04's CLIP that read captioned pages (`page_clip`): pages of its own captioned corpus ("the web"), the
    # caption details to sweep. Quick: 27-43 s a model on two threads of a Xeon, 47-52 s on one, since its ViT
    # reads 16-px patches (16 image tokens; 8-px patches took 2.6x as long and searched no better); the least budget
    # at which naming the institution still clearly anchored it on the title block (3,000 pages hardly did;
    # benchmarks/RESULTS.md)
    "page_clip": {
        "quick": dict(model="clipbook-page", n_pages=4_000, epochs=4, batch_size=64, lr=5e-4,
                      sweep=["kind", "family", "institution"]),
        "full": dict(model="clipbook-page", n_pages=60_000, epochs=10, batch_size=256, lr=1e-3,
                     sweep=["kind", "family", "institution"]),
    },
    # notebook 05: test images per task, labelled images per class for the pixel baselines
    "limitations": {
        "quick": dict(n=360, n_train=40),
        "full": dict(n=2000, n_train=200),
    },
    # notebook 06: the shared image tower, the budget per objective, curves, seeds (as offsets from SEED)
    "objectives": {
        "quick": dict(model="clipbook-tiny", samples=24_576, n_train=8_192, batch_size=64, lr=5e-4, n_evals=6,
                      seeds=[0], n_test=20, target=0.2),
        "full": dict(model="clipbook-small", samples=300_000, n_train=200_000, batch_size=1024, lr=2e-3, n_evals=10,
                     seeds=[0, 1, 2], n_test=50, target=0.5),
    },
    # notebook 07: softmax vs sigmoid per batch size (lr is the rate at ref_batch, scaled by sqrt(batch / ref_batch)),
    # seeds as offsets from SEED, the batch size whose models the modality-gap sections study, the shift grid, the
    # sigmoid model's initial biases the bias-and-gap section trains at that batch size
    "siglip": {
        "quick": dict(model="clipbook-tiny", n_train=3_072, epochs=2, batch_sizes=[16, 32, 64], lr=5e-4, ref_batch=64,
                      seeds=[0], n_val=500, n_test=30, gap_batch=16,
                      lambdas=[-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5],
                      bias_sweep=[-10.0, -5.0, "log(1/B)", 0.0]),
        "full": dict(model="clipbook-small", n_train=40_000, epochs=4, batch_sizes=[16, 32, 64, 128, 256, 512],
                     lr=1e-3, ref_batch=512, seeds=[0, 1, 2], n_val=2_000, n_test=100, gap_batch=64,
                     lambdas=[-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5],
                     bias_sweep=[-10.0, -5.0, "log(1/B)", 0.0]),
    },
}


# Notebook 01 fine-tuning pretrained weights (PRETRAINED) on a reader's pairs, when LR is not given. Measured on
# 410 shapes "photos" from a CSV, the workbook model (held-out recall@1 0.93 before): lr 5e-4, the pretraining
# rate, undid it (0.60-0.78 after 3 epochs); 1e-4 left 0.89-0.95; 1e-5 kept or raised it (0.95-0.96).
FINE_TUNE_LR = 1e-5


def profile_knobs(table: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """The knobs of `table` for `profile` ("quick" or "full"), with every override that is not None applied."""
    check_choice("table", table, PROFILE_TABLES)
    return pick(profile, PROFILE_TABLES[table], **overrides)
