"""Evaluation metrics."""
from .metrics import (FWIoUMetric, confusion_matrix, frequency_weighted_iou,
                      metrics_from_confusion)

__all__ = [
    'FWIoUMetric', 'confusion_matrix', 'frequency_weighted_iou',
    'metrics_from_confusion'
]
