"""Datasets and transforms registered into the host libraries."""
from .transforms import GrayToRGB
from .voc_sbd import PascalVOCWithSBD

__all__ = ['PascalVOCWithSBD', 'GrayToRGB']
