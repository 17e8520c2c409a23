"""MIoU, FWIoU and MPA, as the Core-tuning paper reports segmentation."""
from typing import Dict

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable

__all__ = ['FWIoUMetric', 'frequency_weighted_iou']


def frequency_weighted_iou(area_intersect: np.ndarray,
                           area_union: np.ndarray,
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
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if 'mIoU' not in self.metrics:
            raise ValueError("FWIoUMetric: iou_metrics must include 'mIoU', "
                             f'got {self.metrics}')

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Add ``FWIoU`` and ``MPA`` to the metrics of :class:`IoUMetric`."""
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        area_intersect, area_union, _, area_label = (
            sum(part).numpy() for part in zip(*results))
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
