"""MIoU, FWIoU and MPA, as the Core-tuning paper reports segmentation."""
import json
import os
import os.path as osp
from typing import Dict, Optional

import numpy as np
import torch
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable

__all__ = [
    'FWIoUMetric', 'frequency_weighted_iou', 'confusion_matrix',
    'metrics_from_confusion'
]


def frequency_weighted_iou(area_intersect: np.ndarray, area_union: np.ndarray,
                           area_label: np.ndarray) -> float:
    """``sum_c f_c IoU_c`` over classes present in the ground truth.

    ``f_c`` is the share of labelled pixels of class c.

    Args:
        area_intersect (ndarray): (C, ) diagonal of the confusion matrix.
        area_union (ndarray): (C, ) row sum + column sum - diagonal.
        area_label (ndarray): (C, ) ground-truth pixels per class.

    Returns:
        float: FWIoU in [0, 1]; NaN when there are no labelled pixels.
    """
    area_label = np.asarray(area_label, dtype=np.float64)
    total = area_label.sum()
    if total == 0:
        return float('nan')
    present = area_label > 0
    iou = np.asarray(area_intersect, dtype=np.float64)[present] / \
        np.asarray(area_union, dtype=np.float64)[present]
    return float((area_label[present] / total * iou).sum())


def confusion_matrix(pred_label: torch.Tensor, label: torch.Tensor,
                     num_classes: int, ignore_index: int) -> torch.Tensor:
    """(C, C) int64 counts; rows are the ground truth, columns predictions.

    Pixels labelled ``ignore_index`` (or outside ``[0, C)``) are left out.
    """
    label = label.flatten().long()
    pred_label = pred_label.flatten().long()
    valid = (label != ignore_index) & (label >= 0) & (label < num_classes)
    index = label[valid] * num_classes + pred_label[valid]
    return torch.bincount(
        index.cpu(), minlength=num_classes**2).view(num_classes, num_classes)


def metrics_from_confusion(matrix: np.ndarray) -> Dict[str, float]:
    """AAcc, mIoU, FWIoU, MPA (percentages) and per-class ``IoU`` (array, NaN
    for classes absent from ground truth and prediction) of a confusion matrix
    (rows: ground truth)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    diag, rows, cols = np.diag(matrix), matrix.sum(1), matrix.sum(0)
    union = rows + cols - diag
    with np.errstate(invalid='ignore', divide='ignore'):
        iou = np.where(union > 0, diag / union, np.nan)
        accuracy = np.where(rows > 0, diag / rows, np.nan)
    return dict(
        aAcc=diag.sum() / max(matrix.sum(), 1) * 100,
        mIoU=np.nanmean(iou) * 100,
        FWIoU=frequency_weighted_iou(diag, union, rows) * 100,
        MPA=np.nanmean(accuracy) * 100,
        IoU=iou * 100)


@METRICS.register_module()
class FWIoUMetric(IoUMetric):
    """:class:`IoUMetric` that also reports ``FWIoU`` and ``MPA``.

    With the confusion matrix M (rows: ground truth):
    ``MPA = nanmean_c M_cc / sum_k M_ck`` (MMSegmentation's ``mAcc``),
    ``mIoU = nanmean_c IoU_c`` and ``FWIoU = sum_c f_c IoU_c`` over classes
    present in the ground truth. Classes absent from both ground truth and
    prediction are left out of the means. Values are percentages with two
    decimals, like MMSegmentation's. Takes :class:`IoUMetric`'s arguments;
    ``iou_metrics`` must include ``'mIoU'``.

    Each evaluation also writes the confusion matrix and the per-class IoU
    and accuracy as JSON (``confusion_<k>.json``, k counting evaluations) to
    ``confusion_dir``, by default the run's log folder (next to the
    ``.log`` file).

    Args:
        classwise (bool): Also return ``IoU.<class>`` for every class.
            Defaults to False.
        confusion_dir (str, optional): Where to write the JSON files; ``''``
            writes none. Defaults to the log folder.
        **kwargs: Arguments of :class:`IoUMetric`.
    """

    def __init__(self,
                 classwise: bool = False,
                 confusion_dir: Optional[str] = None,
                 **kwargs):
        super().__init__(**kwargs)
        if 'mIoU' not in self.metrics:
            raise ValueError("FWIoUMetric: iou_metrics must include 'mIoU', "
                             f'got {self.metrics}')
        self.classwise = classwise
        self.confusion_dir = confusion_dir
        self._evaluations = 0

    @staticmethod
    def intersect_and_union(pred_label: torch.Tensor, label: torch.Tensor,
                            num_classes: int, ignore_index: int) -> tuple:
        """:class:`IoUMetric`'s four areas of one image, read off its confusion
        matrix, and the matrix (one pass over the pixels).

        Pixels labelled outside ``[0, C)`` other than ``ignore_index`` count
        nowhere (MMSegmentation counts their predictions in
        ``area_pred_label``); the data checks refuse such labels.

        Returns:
            tuple: area_intersect, area_union, area_pred_label, area_label
            (each (C, )) and the (C, C) confusion matrix.
        """
        matrix = confusion_matrix(pred_label, label, num_classes, ignore_index)
        area_intersect = matrix.diagonal()
        area_label, area_pred_label = matrix.sum(1), matrix.sum(0)
        return (area_intersect, area_label + area_pred_label - area_intersect,
                area_pred_label, area_label, matrix)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Add ``FWIoU`` and ``MPA`` to the metrics of :class:`IoUMetric`."""
        if self.format_only:
            return super().compute_metrics(results)
        metrics = super().compute_metrics([r[:4] for r in results])
        area_intersect, area_union, _, area_label, matrix = (
            sum(part).numpy() for part in zip(*results))
        iou = area_intersect / np.maximum(area_union, 1)
        accuracy = area_intersect / np.maximum(area_label, 1)
        classes = list(self.dataset_meta['classes'])
        if self.classwise:
            metrics.update({
                f'IoU.{name}': np.round(iou[c] * 100, 2)
                for c, name in enumerate(classes) if area_union[c] > 0
            })
        self._write_confusion(classes, matrix, iou, accuracy, area_union)
        metrics['FWIoU'] = np.round(
            frequency_weighted_iou(area_intersect, area_union, area_label) *
            100, 2)
        metrics['MPA'] = metrics['mAcc']
        table = PrettyTable(field_names=['mIoU', 'FWIoU', 'MPA', 'aAcc'])
        table.add_row([metrics[k] for k in table.field_names])
        print_log(
            'Core-tuning paper metrics:\n' + table.get_string(),
            logger=MMLogger.get_current_instance())
        return metrics

    def _write_confusion(self, classes: list, matrix: np.ndarray,
                         iou: np.ndarray, accuracy: np.ndarray,
                         area_union: np.ndarray) -> None:
        """One JSON file per evaluation (main process only)."""
        self._evaluations += 1
        folder = self.confusion_dir
        if folder is None:
            log_file = MMLogger.get_current_instance().log_file
            folder = osp.dirname(log_file) if log_file else ''
        if not folder:
            return
        os.makedirs(folder, exist_ok=True)
        present = area_union > 0
        with open(
                osp.join(folder, f'confusion_{self._evaluations}.json'),
                'w') as f:
            json.dump(
                dict(
                    classes=classes,
                    confusion_matrix=matrix.astype(int).tolist(),
                    rows='ground truth',
                    iou={
                        name: round(float(iou[c]) * 100, 2)
                        for c, name in enumerate(classes) if present[c]
                    },
                    accuracy={
                        name: round(float(accuracy[c]) * 100, 2)
                        for c, name in enumerate(classes) if present[c]
                    }), f)
