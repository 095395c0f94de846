"""A procedural archive of document pages: technical drawings with title blocks, and everything else
(notebook 04 introduces it).

The seed's customer searched 100k PDF pages, about half of them technical drawings, with a drawing as the
query. This package generates such an archive:

* ``drawing`` pages show one part from a family (flange, shaft, bracket, gear, plate, pipe fitting) in two
  orthographic views with random dimensions and proportions, outlines, hidden and centre lines, hatched
  sections, dimension lines with arrows and numbers, notes, a frame, and a **title block** in the
  bottom-right corner drawn from one of several institution templates. The template is independent of the
  family by default; ``title_block_correlation`` (rho) gives each drawing its family's "house" template with
  probability rho (rho=1: the template gives the family away).
* the other pages of an archive: ``text``, ``table``, ``photo`` (embedded colour photos), ``blank`` (empty or
  nearly so) and ``diagram`` (flow charts and schemas; half of them carry a frame and a title block too).

Pages are square (``page_size`` pixels a side): every encoder compared here takes square inputs, so a
square page reaches them without letter-boxing or squashing, and the title block sits in the same pixels on
every drawing. Pages are drawn with PIL at twice the size and reduced (anti-aliasing), deterministically for
a seed, and cached under ``data/cache`` like the shapes corpus.

Clean, such pages are far more regular than any real archive (raw pixels find a drawing's family about as
well as a trained network). ``realism`` (0 to 1; ``PageCorpus(realism=...)``, notebook 04's ``SCAN_REALISM``)
draws the same pages, with the same labels, as a scanned archive: A-series sheets read onto the square,
the views at another scale and place, more layouts and sub-types per family, line weights, the scanner's
rotation and skew, blur, paper tone, noise, speckle and JPEG artefacts (``scan``). 0 is the clean page.

The modules, from the API down to the pen:

* ``corpus`` — ``PageCorpus`` (sampling, labels, caching; pages rendered by ``render_workers()`` processes) and
  ``PageData``, the rendered pages;
* ``captions`` — ``page_captions``: what the web would say about a page, at a chosen ``detail``;
* ``labels`` — the vocabularies (``PAGE_KINDS``, ``FAMILIES``, ``TITLE_BLOCKS``, ``WEB_TITLE_BLOCKS``,
  ``FEATURES``) and ``PageSpec``;
* ``render`` — ``render_page``, the pipeline from one ``PageSpec`` to pixels (``draw_page``: and the visible
  features drawn);
* ``scan`` — ``Scan``, scan realism: what a scanned archive does to a page, drawn per page;
* ``parts`` — the six part families of the drawings;
* ``other_pages`` — text, table, photo, blank and diagram pages;
* ``sheet`` — a drawing's frame, drawing area, notes and revision table;
* ``title_blocks`` — the institution templates, ``TITLE_BLOCK_BOX`` and masking it;
* ``pen`` — the drawing toolkit every page is drawn with.
"""
from .captions import CAPTION_DETAILS, family_queries, page_captions
from .corpus import OTHER_MIX, PageCorpus, PageData, check_fraction, render_workers
from .labels import FAMILIES, FEATURES, PAGE_KINDS, TITLE_BLOCKS, WEB_TITLE_BLOCKS, PageSpec
from .render import draw_page, render_page
from .title_blocks import INSTITUTIONS, MARGIN, TITLE_BLOCK_BOX, mask_title_block, title_block_box

__all__ = ["CAPTION_DETAILS", "FAMILIES", "FEATURES", "INSTITUTIONS", "MARGIN", "OTHER_MIX", "PAGE_KINDS",
           "TITLE_BLOCKS", "TITLE_BLOCK_BOX", "PageCorpus", "PageData", "PageSpec", "check_fraction", "family_queries",
           "WEB_TITLE_BLOCKS", "draw_page", "mask_title_block", "page_captions", "render_page", "render_workers",
           "title_block_box"]
