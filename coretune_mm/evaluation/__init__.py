"""Evaluation metrics, the k-NN probe and the paired-seed comparison."""
from .knn import knn_accuracy
from .metrics import (FWIoUMetric, confusion_matrix, frequency_weighted_iou,
                      metrics_from_confusion)
from .paired import (grouped_difference, paired_difference, paired_plot,
                     paired_table)

__all__ = [
    'knn_accuracy', 'FWIoUMetric', 'confusion_matrix',
    'frequency_weighted_iou', 'metrics_from_confusion', 'grouped_difference',
    'paired_difference', 'paired_plot', 'paired_table'
]
