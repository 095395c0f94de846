"""What a page can show: the label vocabularies (page kinds, part families, title-block institutions, visible
features) and ``PageSpec``, one page's labels and the seed its details are drawn from.

Everything else in the package draws or counts these names; this module imports nothing from it.
"""
from __future__ import annotations

from dataclasses import dataclass

PAGE_KINDS: tuple[str, ...] = ("drawing", "text", "table", "photo", "blank", "diagram")
FAMILIES: tuple[str, ...] = ("flange", "shaft", "bracket", "gear", "plate", "pipe_fitting")
# Institutions whose title-block templates the drawings carry (fictional names).
TITLE_BLOCKS: tuple[str, ...] = ("allegheny", "nordwerk", "kestrel", "meridian", "harbor", "tessera")
# Institutions whose title blocks only the captioned corpus carries (notebook 04's "web", `clipbook.page_clip`):
# a CLIP trained on it never saw the archive's title blocks, as a web CLIP never saw a customer's.
WEB_TITLE_BLOCKS: tuple[str, ...] = ("osprey", "caldera", "lindqvist", "veritas")
# Visible features of a drawing that its captions can name: two views drawn (else one), holes (bolt, fixing or
# lightening holes seen as circles, not the bore), a hatched section.
FEATURES: tuple[str, ...] = ("two_views", "holes", "hatching")


@dataclass(frozen=True)
class PageSpec:
    """What one page shows (its labels) and the seed its details are drawn from."""

    kind: str
    family: str | None
    template: str | None
    seed: int
