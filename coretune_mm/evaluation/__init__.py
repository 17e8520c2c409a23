"""Evaluation metrics and the k-NN probe of frozen features."""
from .knn import knn_accuracy
from .metrics import (FWIoUMetric, confusion_matrix, frequency_weighted_iou,
                      metrics_from_confusion)

__all__ = [
    'knn_accuracy', 'FWIoUMetric', 'confusion_matrix',
    'frequency_weighted_iou', 'metrics_from_confusion'
]
