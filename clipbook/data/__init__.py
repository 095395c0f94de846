"""Corpora clipbook generates or ships: one module per corpus."""
from . import pdf
from .captions import CaptionPairs, load_split, read_captions_csv, split_pairs
from .digits import digits
from .folders import ImageFolderData, class_folders, open_rgb, stratified_split
from .drawings import (FAMILIES, PAGE_KINDS, TITLE_BLOCK_BOX, TITLE_BLOCKS, PageCorpus, PageData,
                       mask_title_block)
from .shapes import (COLOURS, COUNT_WORDS, INVERSE_RELATION, RELATIONS, SCENE_KINDS, SHAPES, SIZES, SPLITS, Scene,
                     ShapeObject, ShapesData, ShapesWorld, a, hash_seed, plural, relation_phrase)

__all__ = ["CaptionPairs", "COLOURS", "COUNT_WORDS", "FAMILIES", "ImageFolderData", "INVERSE_RELATION", "RELATIONS", "PAGE_KINDS", "SCENE_KINDS", "SHAPES", "SIZES", "SPLITS", "TITLE_BLOCKS",
           "TITLE_BLOCK_BOX", "PageCorpus", "PageData", "Scene", "ShapeObject", "ShapesData", "ShapesWorld", "a",
           "class_folders", "digits", "hash_seed", "load_split", "mask_title_block", "pdf", "plural", "open_rgb", "read_captions_csv",
           "relation_phrase", "split_pairs", "stratified_split"]
