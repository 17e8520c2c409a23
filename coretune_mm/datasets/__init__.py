"""Datasets registered into MMSegmentation's DATASETS."""
from .voc_sbd import PascalVOCWithSBD

__all__ = ['PascalVOCWithSBD']
