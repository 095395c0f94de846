"""Corpora clipbook generates or ships: one module per corpus."""
from . import pdf
from .captions import CaptionPairs, load_split, read_captions_csv, split_pairs
from .digits import digits
from .folders import ImageFolderData, class_folders, open_rgb, stratified_split
from .drawings import (FAMILIES, PAGE_KINDS, TITLE_BLOCK_BOX, TITLE_BLOCKS, PageCorpus, PageData,
                       mask_title_block)
from .shapes import (COLOURS, COUNT_WORDS, INVERSE_RELATION, RELATIONS, SAME_MEANING, SCENE_KINDS, SHAPES, SIZES,
                     SPLITS, WHAT_CAUSES, WHERE_CAUSES, Scene, ShapeObject, ShapesData, ShapesWorld, a, hash_seed,
                     is_where_cause, mirror_cells, miss_cause, plural, relation_phrase, where_questions)

__all__ = [
    "a", "CaptionPairs", "class_folders", "COLOURS", "COUNT_WORDS", "digits", "FAMILIES", "hash_seed",
    "ImageFolderData", "INVERSE_RELATION", "is_where_cause", "load_split", "mask_title_block", "mirror_cells",
    "miss_cause", "open_rgb", "PAGE_KINDS", "PageCorpus", "PageData", "pdf", "plural", "read_captions_csv",
    "relation_phrase", "RELATIONS", "SAME_MEANING", "Scene", "SCENE_KINDS", "ShapeObject", "SHAPES",
    "ShapesData", "ShapesWorld", "SIZES", "split_pairs", "SPLITS", "stratified_split", "TITLE_BLOCK_BOX",
    "TITLE_BLOCKS", "WHAT_CAUSES", "WHERE_CAUSES", "where_questions"
]
