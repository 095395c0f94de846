"""Corpora clipbook generates or ships: one module per corpus."""
from . import pdf
from .captions import CaptionPairs, load_split, read_captions_csv, split_pairs
from .digits import digits
from .folders import ImageFolderData, class_folders, open_rgb, stratified_split
from .drawings import (FAMILIES, PAGE_KINDS, TITLE_BLOCK_BOX, TITLE_BLOCKS, PageCorpus, PageData,
                       mask_title_block)
from .shapes import (COLOURS, COUNT_WORDS, INVERSE_RELATION, RELATIONS, SAME_MEANING, SCENE_KINDS, SHAPES, SIZES,
                     SPLITS, WHAT_CAUSES, WHERE_CAUSES, Scene, ShapeObject, ShapesData, ShapesWorld, a, hash_seed,
                     is_where_cause, mirror_cells, miss_cause, plural, relation_phrase)

__all__ = ["CaptionPairs", "COLOURS", "COUNT_WORDS", "FAMILIES", "ImageFolderData", "INVERSE_RELATION", "RELATIONS", "PAGE_KINDS", "SAME_MEANING", "SCENE_KINDS", "SHAPES", "SIZES", "SPLITS", "TITLE_BLOCKS",
           "TITLE_BLOCK_BOX", "WHAT_CAUSES", "WHERE_CAUSES", "PageCorpus", "PageData", "Scene", "ShapeObject", "ShapesData", "ShapesWorld", "a",
           "class_folders", "digits", "hash_seed", "is_where_cause", "load_split", "mask_title_block", "mirror_cells", "miss_cause", "pdf", "plural", "open_rgb", "read_captions_csv",
           "relation_phrase", "split_pairs", "stratified_split"]
