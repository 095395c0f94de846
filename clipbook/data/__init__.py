"""Corpora clipbook generates: one module per corpus."""
from .digits import digits
from .shapes import (COLOURS, a, SCENE_KINDS, SHAPES, SIZES, SPLITS, Scene, ShapeObject, ShapesData,
                     ShapesWorld, hash_seed, plural)

__all__ = ["COLOURS", "a", "digits", "SCENE_KINDS", "SHAPES", "SIZES", "SPLITS", "Scene", "ShapeObject", "ShapesData",
           "ShapesWorld", "hash_seed", "plural"]
