"""A procedural archive of document pages (notebook 04): the public API of ``parts``, where all of it lives
until the next commit splits it into one module per idea."""
from .parts import (FAMILIES, INSTITUTIONS, MARGIN, OTHER_MIX, PAGE_KINDS, TITLE_BLOCK_BOX, TITLE_BLOCKS, PageCorpus,
                    PageData, PageSpec, check_fraction, mask_title_block, render_page, title_block_box)

__all__ = ["FAMILIES", "INSTITUTIONS", "MARGIN", "OTHER_MIX", "PAGE_KINDS", "TITLE_BLOCKS", "TITLE_BLOCK_BOX",
           "PageCorpus", "PageData", "PageSpec", "check_fraction", "mask_title_block", "render_page",
           "title_block_box"]
