"""Captions for pages: the text a page would carry on the web, written from what the generator drew.

Issue 13's CLIP that learned from captioned pages trains on a corpus apart from the archive (other seeds), each
page captioned from its labels (what the generator drew). How much a caption says is `detail`:

* ``"kind"``: the page kind only ("a technical drawing", "a table", "a blank page"), and whether the page
  carries a title block;
* ``"family"``: drawings also name their part family ("an engineering drawing of a flange"), with probability
  `p_family` per page, as web captions name what a picture shows only some of the time, and, with probability
  `p_features`, the visible features the generator drew (``FEATURES``: "in two views" or "in one view", "with
  holes", "with a hatched section");
* ``"institution"``: pages with a title block also name the institution it prints ("... from Nordwerk
  GmbH"), with probability `p_institution`: the words a title block carries.

Every page gets `PHRASINGS` phrasings with the same content in different words; whether a page's captions
name its family, features or institution is drawn once per page, deterministically from a seed.
"""
from __future__ import annotations

import numpy as np

from ...utils import check_choice
from .corpus import PageData, check_fraction
from .labels import FAMILIES, FEATURES, PAGE_KINDS
from .title_blocks import INSTITUTIONS

CAPTION_DETAILS: tuple[str, ...] = ("kind", "family", "institution")
PHRASINGS = 3
# How a caption names each page kind, one wording per phrasing.
KIND_WORDS: dict[str, tuple[str, str, str]] = {
    "drawing": ("a technical drawing", "an engineering drawing", "a drawing"),
    "text": ("a page of text", "a typed document", "a document page"),
    "table": ("a table", "a page with a table", "a printed table"),
    "photo": ("a photo", "a photograph", "a picture"),
    "blank": ("a blank page", "an empty page", "an empty sheet"),
    "diagram": ("a diagram", "a block diagram", "a chart"),
}
FAMILY_WORDS: dict[str, str] = {"flange": "a flange", "shaft": "a shaft", "bracket": "a bracket", "gear": "a gear",
                                "plate": "a plate", "pipe_fitting": "a pipe fitting"}


def feature_words(shown: tuple[str, ...]) -> str:
    """What a caption says of a drawing's visible features (``FEATURES``): " in two views, with holes and a
    hatched section", " in one view", ...; "" for a page that is not a drawing."""
    if not shown:
        return ""
    for f in shown:
        check_choice("feature", f, FEATURES)
    text = " in two views" if "two_views" in shown else " in one view"
    extras = [w for f, w in (("holes", "holes"), ("hatching", "a hatched section")) if f in shown]
    return text + (", with " + " and ".join(extras) if extras else "")


def institution_name(template: str) -> str:
    """The institution a title-block template prints, as a caption writes it ("Nordwerk Gmbh")."""
    return INSTITUTIONS[template].title()


def family_queries(family: str) -> list[str]:
    """The text queries that ask for drawings of `family`, one per phrasing of a drawing ("a technical drawing
    of a flange", "an engineering drawing of a flange", "a drawing of a flange")."""
    check_choice("family", family, FAMILIES)
    return [f"{words} of {FAMILY_WORDS[family]}" for words in KIND_WORDS["drawing"]]


def page_captions(pages: PageData, seed: int = 0, detail: str = "family", p_family: float = 0.7,
                  p_institution: float = 0.5, p_features: float = 0.5) -> list[list[str]]:
    """`PHRASINGS` captions for every page of `pages` (see the module's docstring); `seed` decides which pages
    name what (one row of draws per page, so a longer corpus keeps its first pages' captions). Features need
    pages that carry them (``PageData.features``, as ``PageCorpus`` makes them)."""
    check_choice("detail", detail, CAPTION_DETAILS)
    check_fraction("p_family", p_family)
    check_fraction("p_institution", p_institution)
    check_fraction("p_features", p_features)
    level = CAPTION_DETAILS.index(detail)
    if level >= 1 and p_features > 0 and pages.features is None:
        raise ValueError(f"detail={detail!r} with p_features={p_features!r} names the features a page shows, and "
                         "these pages carry none: give pages from PageCorpus, or p_features=0.")
    draws = np.random.default_rng([seed, 4_242]).random((len(pages), 2))
    # drawn apart, so that adding features left which pages name their family or institution as it was
    names_features = np.random.default_rng([seed, 4_243]).random(len(pages)) < p_features
    out = []
    for i, u in enumerate(draws):
        kind = PAGE_KINDS[pages.kind[i]]
        family = pages.families[pages.family[i]] if pages.family[i] >= 0 else None
        template = pages.templates[pages.template[i]] if pages.template[i] >= 0 else None
        names_family = level >= 1 and family is not None and u[0] < p_family
        names_institution = level >= 2 and template is not None and u[1] < p_institution
        features = feature_words(pages.shows(i)) if level >= 1 and names_features[i] else ""
        phrasings = []
        for j in range(PHRASINGS):
            text = KIND_WORDS[kind][j]
            if names_family:
                text += f" of {FAMILY_WORDS[family]}"
            text += features
            if names_institution:
                text += f" from {institution_name(template)}"
            elif template is not None and j == 2:
                text += " with a title block"
            phrasings.append(text)
        out.append(phrasings)
    return out
