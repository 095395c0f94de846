"""Search speed over 1M stored page vectors: query latency of the exact faiss index against the approximate
ones (IVF, HNSW), and the approximate indexes' recall@10 against exact search (`clipbook.search`, the page-search tool).

    python benchmarks/bench_search.py                 # 1M x 128-d, prints a JSON summary
    python benchmarks/bench_search.py --n 100000 --skip-hnsw

Vectors are clustered like page embeddings (a mixture of Gaussians, L2-normalised), not uniform noise, on
which no approximate index does well. Queries are fresh draws from the same mixture. Indexes are
`clipbook.search.PageIndex`, the class the tool and the notebook use. Latency is measured two ways: one
query at a time (median over single calls: what a user waits for) and a batch of queries (per query).
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import faiss
import numpy as np
import torch

from clipbook.search import PageIndex


def clustered(centres: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    """n L2-normalised vectors drawn around random ones of `centres`."""
    x = np.empty((n, centres.shape[1]), np.float32)
    for i in range(0, n, 100_000):  # in chunks, to keep the temporary arrays small
        m = min(100_000, n - i)
        noise = spread * rng.normal(size=(m, centres.shape[1])).astype(np.float32)
        x[i:i + m] = centres[rng.integers(len(centres), size=m)] + noise
    faiss.normalize_L2(x)
    return x


def latency(index: PageIndex, queries: np.ndarray, k: int, singles: int) -> dict:
    """Median single-query latency (ms) and per-query latency of one batch (ms), plus the batch's results."""
    times = []
    for q in queries[:singles]:
        start = time.perf_counter()
        index.search(q[None], k, "bench")
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    _, found = index.search(queries, k, "bench")
    batch = time.perf_counter() - start
    return {"single_query_ms_median": 1000 * float(np.median(times)),
            "single_query_ms_p90": 1000 * float(np.percentile(times, 90)),
            "batch_ms_per_query": 1000 * batch / len(queries)}, found


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k that the approximate top-k recovers."""
    k = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="stored vectors (default 1M)")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--clusters", type=int, default=2_000)
    parser.add_argument("--spread", type=float, default=1.0, help="noise around a cluster centre, per dimension")
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--singles", type=int, default=200, help="queries timed one at a time")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--skip-hnsw", action="store_true", help="HNSW takes minutes to build on a few cores")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(args.clusters, args.dim)).astype(np.float32)
    data = clustered(centres, args.n, args.spread, rng)
    queries = clustered(centres, args.queries, args.spread, rng)  # fresh draws from the same mixture
    results = {
        "device": f"cpu ({faiss.omp_get_max_threads()} faiss threads, {platform.processor() or platform.machine()})",
        "versions": {"faiss": faiss.__version__, "numpy": np.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "command": "python benchmarks/bench_search.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if not isinstance(v, bool)) + (" --skip-hnsw" if args.skip_hnsw else ""),
        "n_vectors": args.n, "dim": args.dim, "k": args.k, "n_queries": args.queries, "indexes": [],
    }

    start = time.perf_counter()
    exact = PageIndex(args.dim, "bench", "exact").add(data, ids=range(args.n))
    build = time.perf_counter() - start
    timing, truth = latency(exact, queries, args.k, args.singles)
    results["indexes"].append({"kind": "exact (IndexFlatIP)", "build_seconds": build, **timing,
                               f"recall@{args.k}": 1.0})

    start = time.perf_counter()
    ivf = PageIndex(args.dim, "bench", "ivf").add(data, ids=range(args.n))
    build = time.perf_counter() - start
    for nprobe in args.nprobe:
        ivf.index.nprobe = nprobe
        timing, found = latency(ivf, queries, args.k, args.singles)
        results["indexes"].append({"kind": f"ivf (IndexIVFFlat, {ivf.index.nlist} lists, nprobe {nprobe})",
                                   "build_seconds": build, **timing, f"recall@{args.k}": recall_at_k(found, truth)})
    del ivf

    if not args.skip_hnsw:
        start = time.perf_counter()
        hnsw = PageIndex(args.dim, "bench", "hnsw").add(data, ids=range(args.n))
        build = time.perf_counter() - start
        for ef in args.ef_search:
            hnsw.index.hnsw.efSearch = ef
            timing, found = latency(hnsw, queries, args.k, args.singles)
            results["indexes"].append({"kind": f"hnsw (IndexHNSWFlat, M 32, efSearch {ef})", "build_seconds": build,
                                       **timing, f"recall@{args.k}": recall_at_k(found, truth)})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
