"""Metrics registered into MMSegmentation's METRICS."""
from .fwiou_metric import FWIoUMetric, frequency_weighted_iou

__all__ = ['FWIoUMetric', 'frequency_weighted_iou']
