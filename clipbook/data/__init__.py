"""Corpora clipbook generates or ships: one module per corpus."""
from . import pdf
from .digits import digits
from .drawings import (FAMILIES, PAGE_KINDS, TITLE_BLOCK_BOX, TITLE_BLOCKS, PageCorpus, PageData,
                       mask_title_block)
from .shapes import (COLOURS, COUNT_WORDS, INVERSE_RELATION, RELATIONS, SCENE_KINDS, SHAPES, SIZES, SPLITS, Scene,
                     ShapeObject, ShapesData, ShapesWorld, a, hash_seed, plural, relation_phrase)

__all__ = ["COLOURS", "COUNT_WORDS", "FAMILIES", "INVERSE_RELATION", "RELATIONS", "PAGE_KINDS", "SCENE_KINDS", "SHAPES", "SIZES", "SPLITS", "TITLE_BLOCKS",
           "TITLE_BLOCK_BOX", "PageCorpus", "PageData", "Scene", "ShapeObject", "ShapesData", "ShapesWorld", "a",
           "digits", "hash_seed", "mask_title_block", "pdf", "plural", "relation_phrase"]
