"""Title-block anchoring (notebook 04): does an encoder find a drawing's part family, or its title block?

Measured on the synthetic archive of `clipbook.data.drawings`, whose pages carry their labels: family
precision and title-block share of the top k against their chance levels (`search_metrics`), where on the
page an encoder looks (`occlusion_sensitivity`, `box_share`), and search with the title-block box blanked
at index and query time (`search_archive`, through the search tool's `mask_box`), and search by text with a
CLIP's text tower, which an image-only encoder cannot do (`text_query_search`). How sure a figure is: bootstrap
intervals over the queries (`step_intervals`, `share_ratio_interval`, `map_difference_interval`), and over the
part families for text queries (`text_query_interval`).
"""
from __future__ import annotations

import numpy as np

from .data.drawings import TITLE_BLOCK_BOX, PageData, family_queries
from .search import Encoder, PageIndex, ranking_metrics
from .intervals import check_interval_args, paired_bootstrap
from .search.metrics import average_precision
from .search.index import Box, check_box, paper_colour

__all__ = ["box_share", "map_difference_interval", "occlusion_sensitivity", "search_archive", "search_metrics",
           "share_ratio_interval", "step_intervals", "text_query_interval", "text_query_search"]


def _checked(found: np.ndarray, queries: PageData, k: int) -> np.ndarray:
    """`found`'s first k columns, once it holds a row per query and the queries are all drawings."""
    found = np.asarray(found)[:, :k]
    if len(found) != len(queries):
        raise ValueError(f"found has {len(found)} rows for {len(queries)} queries: one row of results per query.")
    if np.any(queries.family < 0):
        raise ValueError("queries must all be drawings (family >= 0): search with drawings, as the seed's users did.")
    return found


def _label_counts(pages: PageData) -> tuple[np.ndarray, np.ndarray]:
    """How many pages carry each part family, and each title-block template."""
    return (np.bincount(pages.family[pages.family >= 0], minlength=len(pages.families)),
            np.bincount(pages.template[pages.template >= 0], minlength=len(pages.templates)))


def search_metrics(found: np.ndarray, queries: PageData, pages: PageData, k: int = 10) -> dict[str, float]:
    """Family retrieval (relevant = same part family) and title-block anchoring of top-k results.

    `found`: (Q, >=k) positions in `pages` for each query drawing. Besides precision/recall/mAP@k:
    ``family_share@k`` and ``titleblock_share@k`` (the share of the top k with the query's family, with its
    title-block template) and their chance levels (the shares among all indexed pages).

    precision@k splits in two steps, since an archive holds other pages than drawings: ``drawing_share@k``, the
    share of the top k that are drawings of any family (chance: the drawings' share of the archive), and
    ``family_among_drawings@k``, the share of those drawings with the query's family (chance: the family's share of
    the archive's drawings). An encoder that only tells drawings from other pages lifts the first, not the second.
    The title-block share has the same second step: ``titleblock_among_titled@k``, the share of the top k's pages
    that carry a title block (drawings and some diagrams) with the query's (chance: its share of those pages)."""
    found = _checked(found, queries, k)
    same_family = pages.family[found] == queries.family[:, None]
    same_template = pages.template[found] == queries.template[:, None]
    n_family, n_template = _label_counts(pages)
    out = ranking_metrics(same_family, n_family[queries.family], k)
    out[f"family_share@{k}"] = float(same_family.mean())
    out[f"titleblock_share@{k}"] = float(same_template.mean())
    out[f"chance_precision@{k}"] = float(np.mean(n_family[queries.family] / len(pages)))
    out[f"chance_titleblock_share@{k}"] = float(np.mean(n_template[queries.template] / len(pages)))
    # the second steps, from the per-query counts the intervals resample (`step_intervals`)
    fam, drawings, tmpl, titled, fam_chance, tmpl_chance = _per_query(found, queries, pages, k)
    out[f"drawing_share@{k}"] = float(drawings.sum() / found.size)
    out[f"family_among_drawings@{k}"] = float(fam.sum() / max(1, int(drawings.sum())))
    out[f"chance_drawing_share@{k}"] = int(n_family.sum()) / len(pages)
    out[f"chance_family_among_drawings@{k}"] = float(fam_chance.mean())
    out[f"titleblock_among_titled@{k}"] = float(tmpl.sum() / max(1, int(titled.sum())))
    out[f"chance_titleblock_among_titled@{k}"] = float(tmpl_chance.mean())
    return out


def _per_query(found: np.ndarray, queries: PageData, pages: PageData, k: int) -> tuple[np.ndarray, ...]:
    """What `search_metrics`' shares sum over, one value per query: in its top k, the results with its family, the
    drawings, the results with its title block, the results that carry a block; its family's share of the drawings
    and its block's share of the titled pages (the two steps' chance levels)."""
    found = _checked(found, queries, k)
    family, template = pages.family[found], pages.template[found]
    n_family, n_template = _label_counts(pages)
    return ((family == queries.family[:, None]).sum(1), (family >= 0).sum(1),
            (template == queries.template[:, None]).sum(1), (template >= 0).sum(1),
            n_family[queries.family] / max(1, int(n_family.sum())),
            n_template[queries.template] / max(1, int(n_template.sum())))


def step_intervals(found: np.ndarray, queries: PageData, pages: PageData, k: int = 10, level: float = 0.95,
                   n_resamples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """How sure `search_metrics`' figures are: each with a bootstrap interval over the queries (`level`, e.g. the
    middle 95% of `n_resamples` resampled query sets; the same `seed` and queries resample alike for every encoder).

    Keys, each a dict of value, low and high: ``precision@k``; ``family_step@k`` (``family_among_drawings@k`` over
    its chance) and ``titleblock_step@k`` (``titleblock_among_titled@k`` over its chance), the second steps notebook
    04 compares; ``titleblock_minus_family_step@k``, their difference on the same resampled queries (above 0
    throughout the interval: the title block pulls the encoder harder than the part does)."""
    check_interval_args(level, n_resamples)
    data = _per_query(found, queries, pages, k)

    def ratio(a, b, axis):
        return a.sum(axis) / np.maximum(b.sum(axis), 1)

    def family_step(fam, draw, tmpl, titled, fam_chance, tmpl_chance, axis=-1):
        return ratio(fam, draw, axis) / fam_chance.mean(axis)

    def titleblock_step(fam, draw, tmpl, titled, fam_chance, tmpl_chance, axis=-1):
        return ratio(tmpl, titled, axis) / tmpl_chance.mean(axis)

    statistics = {
        f"precision@{k}": lambda fam, *_, axis=-1: fam.mean(axis) / k,
        f"family_step@{k}": family_step,
        f"titleblock_step@{k}": titleblock_step,
        f"titleblock_minus_family_step@{k}": lambda *d, axis=-1: titleblock_step(*d, axis=axis) - family_step(
            *d, axis=axis),
    }
    return {name: paired_bootstrap(data, stat, level, n_resamples, seed) for name, stat in statistics.items()}


def share_ratio_interval(found: np.ndarray, baseline: np.ndarray, queries: PageData, pages: PageData,
                         k: int = 10, share: str = "family", level: float = 0.95, n_resamples: int = 2000,
                         seed: int = 0) -> dict[str, float]:
    """A share of `found`'s top k over the same share of `baseline`'s (another encoder's top k for the same
    queries), with a paired bootstrap interval over the queries: value, low and high. `share`: "family" (the
    query's family: precision@k) or "titleblock" (the query's title block). Low above 1: `found` beats the baseline
    on that share beyond what the choice of queries explains."""
    check_interval_args(level, n_resamples)
    if share not in ("family", "titleblock"):
        raise ValueError(f"share={share!r} is not allowed: use 'family' or 'titleblock'.")
    if len(found) != len(baseline):
        raise ValueError(f"found has {len(found)} rows and baseline {len(baseline)}: both must rank the same queries.")
    column = 0 if share == "family" else 2  # _per_query's hits of the query's family, of its title block
    hits = _per_query(found, queries, pages, k)[column]
    base = _per_query(baseline, queries, pages, k)[column]
    if base.sum() == 0:
        raise ValueError(f"baseline found no page with a query's {share}: a ratio to a share of 0 is undefined.")
    return paired_bootstrap((hits, base), lambda a, b, axis=-1: a.sum(axis) / np.maximum(b.sum(axis), 1), level,
                      n_resamples, seed)


def map_difference_interval(found: np.ndarray, baseline: np.ndarray, queries: PageData, pages: PageData,
                            k: int = 10, level: float = 0.95, n_resamples: int = 2000,
                            seed: int = 0) -> dict[str, float]:
    """mAP@k of `found` minus that of `baseline` (another encoder's top k for the same queries; relevant: the
    query's family), with a paired bootstrap interval over the queries: value, low and high. An interval that holds
    0 cannot tell the two apart on these queries."""
    check_interval_args(level, n_resamples)
    if len(found) != len(baseline):
        raise ValueError(f"found has {len(found)} rows and baseline {len(baseline)}: both must rank the same queries.")
    ap, base = (average_precision(pages.family[_checked(f, queries, k)] == queries.family[:, None], k)
                for f in (found, baseline))
    return paired_bootstrap((ap, base), lambda a, b, axis=-1: a.mean(axis) - b.mean(axis), level, n_resamples, seed)


def search_archive(pages: PageData, queries: PageData, encoder: Encoder, masked: bool,
                   k: int = 10, index: PageIndex | None = None) -> tuple[dict[str, float], np.ndarray]:
    """Index `pages`, search them with the `queries` drawings (TITLE_BLOCK_BOX blanked on both if `masked`):
    `search_metrics` and the top-k positions (Q, k). Pass `index` (`pages` already indexed with `encoder`, with
    the same masking) to search it instead of encoding the pages again."""
    if index is None:
        index = PageIndex.build(pages.images, encoder, mask_box=TITLE_BLOCK_BOX if masked else None)
    _, found = index.search_pages(queries.images, encoder, k)
    return search_metrics(found, queries, pages, k), found


def text_query_search(pages: PageData, encoder: Encoder, model, tokenizer, k: int = 10, device="auto",
                      index: PageIndex | None = None) -> dict[str, float]:
    """Search `pages` (indexed with `encoder`, a CLIP's image tower) with text queries for each part family, in
    the three wordings captions use for a drawing ("a technical drawing of a flange", "an engineering drawing of
    a flange", "a drawing of a flange"; encoded by the same CLIP's text tower): ``text_query_precision@k`` (the
    share of a query's top k that are drawings of its family, averaged over a family's queries, then over
    families), its chance level (the families' shares of the archive) and the precision of each family. Pass
    `index` (the pages already indexed with `encoder`, unmasked) to search it instead of encoding them again."""
    from .retrieval import encode_texts

    families = [f for f in range(len(pages.families)) if np.any(pages.family == f)]
    if not families:
        raise ValueError("pages holds no drawings: text queries ask for drawings of a part family.")
    if index is None:
        index = PageIndex.build(pages.images, encoder)
    asked = [family_queries(pages.families[f]) for f in families]
    texts = [q for queries in asked for q in queries]
    _, found = index.search(encode_texts(model, tokenizer, texts, device), k, encoder)
    truth = np.repeat(families, [len(queries) for queries in asked])
    hits = (pages.family[found[:, :k]] == truth[:, None]).reshape(len(families), -1)  # a family's queries in a row
    out = {f"text_query_precision@{k}": float(hits.mean()),
           f"chance_text_query_precision@{k}": float(np.mean([np.mean(pages.family == f) for f in families]))}
    out.update({f"text_query_precision@{k}:{pages.families[f]}": float(h.mean()) for f, h in zip(families, hits)})
    return out


def text_query_interval(text: dict[str, float], baseline: dict[str, float] | None = None, k: int = 10,
                        level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict[str, float]:
    """`text_query_search`'s precision@k with a bootstrap interval over the part families: value, low and high.
    With `baseline` (another CLIP's `text_query_search` on the same archive), their difference, paired by family.
    A family's wordings ask the same thing, so they are resampled together: there are only as many units as
    families (six in the generated archive), and the interval is coarse."""
    check_interval_args(level, n_resamples)
    prefix = f"text_query_precision@{k}:"
    families = [key[len(prefix):] for key in text if key.startswith(prefix)]
    if len(families) < 2:
        raise ValueError(f"text holds text_query_precision@{k} for {len(families)} families: an interval over the "
                         "families needs at least 2 (pass what text_query_search returns, with the same k).")
    values = np.array([text[prefix + f] for f in families])
    if baseline is None:
        return paired_bootstrap((values,), lambda a, axis=-1: a.mean(axis), level, n_resamples, seed)
    others = sorted(key[len(prefix):] for key in baseline if key.startswith(prefix))
    if others != sorted(families):
        raise ValueError(f"baseline asks the families {others} and text {sorted(families)}: a paired difference "
                         "needs the same families (two CLIPs searching the same archive).")
    base = np.array([baseline[prefix + f] for f in families])
    return paired_bootstrap((values, base), lambda a, b, axis=-1: a.mean(axis) - b.mean(axis), level, n_resamples,
                            seed)


def occlusion_sensitivity(encoder: Encoder, images: np.ndarray, patch: float = 0.125,
                          stride: float = 0.0625) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus) of page embeddings: slide a paper-coloured patch (`patch` of
    the side) over each page in steps of `stride`, and score each pixel by how far the embedding moves
    (1 - cosine to the unoccluded page), averaged over the patches covering it. Returns (N, S, S)."""
    images = np.asarray(images)
    n, s = images.shape[:2]
    if not 0 < patch <= 1 or not 0 < stride <= 1:
        raise ValueError(f"patch={patch!r} and stride={stride!r} are not allowed: both are fractions of the side, "
                         "in (0, 1].")
    p, st = max(1, round(patch * s)), max(1, round(stride * s))
    starts = sorted(set(list(range(0, s - p + 1, st)) + [s - p]))
    boxes = [(y, x) for y in starts for x in starts]
    paper = paper_colour(images)
    maps = np.zeros((n, s, s), np.float32)
    for i in range(n):
        copies = np.repeat(images[i:i + 1], len(boxes) + 1, axis=0)
        for j, (y, x) in enumerate(boxes, start=1):
            copies[j, y:y + p, x:x + p] = paper[i]
        f = encoder.encode(copies).numpy()
        moved = 1.0 - f[1:] @ f[0]
        heat, count = np.zeros((s, s), np.float32), np.zeros((s, s), np.float32)
        for (y, x), m in zip(boxes, moved):
            heat[y:y + p, x:x + p] += m
            count[y:y + p, x:x + p] += 1
        maps[i] = heat / np.maximum(count, 1)
    return maps


def box_share(maps: np.ndarray, box: Box = TITLE_BLOCK_BOX) -> np.ndarray:
    """The share of each map's total (N, S, S) that falls inside `box` (page fractions x0, y0, x1, y1)."""
    maps = np.clip(np.asarray(maps, np.float64), 0, None)
    s = maps.shape[-1]
    x0, y0, x1, y1 = (int(round(v * s)) for v in check_box("box", box))
    inside = maps[:, y0:y1, x0:x1].sum((1, 2))
    return inside / np.maximum(maps.sum((1, 2)), 1e-12)
