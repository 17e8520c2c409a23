"""Metrics registered into MMSegmentation's METRICS."""
from .fwiou_metric import (FWIoUMetric, confusion_matrix,
                           frequency_weighted_iou, metrics_from_confusion)

__all__ = [
    'FWIoUMetric', 'confusion_matrix', 'frequency_weighted_iou',
    'metrics_from_confusion'
]
