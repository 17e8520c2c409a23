"""Log how compact and separated the classes are in feature space."""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from coretune_mm.core import (check_int, feature_space_stats, labels_at,
                              pixel_rows)
from .utils import find_head

__all__ = ['FeatureSpaceHook']


@HOOKS.register_module()
class FeatureSpaceHook(Hook):
    """Feature-space diagnostics at each validation and test.

    Captures the input of the head's classifier (``fc`` for MMPretrain heads,
    ``conv_seg`` for decode heads: the pre-classifier features) on a bounded
    random sample of validation samples (pixels for segmentation, labels
    nearest-resized to the feature map, the ignore index left out), gathered
    from every rank, then reports ``feature_intra``, ``feature_inter_mean``,
    ``feature_inter_min`` and ``feature_ratio`` (see
    :func:`coretune_mm.core.feature_space_stats`) with the evaluation's
    metrics: in its log line, its scalars (same step as the metrics) and
    what ``runner.val()`` / ``runner.test()`` return. With ``plot=True`` it
    also draws a 2-D PCA scatter (one colour per class), written to
    ``<work_dir>/feature_space/`` and given to the runner's visualizer
    (``<mode>_feature_space``), so that its backends (TensorBoard, W&B,
    ...) show it.

    What it cannot measure it skips, with one warning per reason: an
    unlabelled set, a head without ``fc`` / ``conv_seg``, or a classifier
    that runs several times per batch (sliding-window inference, test-time
    augmentation), whose features do not line up with the labels.

    Training is untouched: the hook only observes evaluation forwards.

    Args:
        max_samples (int): Most features kept per evaluation, over all
            ranks. Defaults to 2000.
        per_batch (int): Most features kept per batch. Defaults to 256.
        plot (bool): Write the scatter plot. Defaults to False.
        seed (int): Seed of the sampling. Defaults to 0.
    """

    # before LoggerHook (BELOW_NORMAL): the evaluation's own log line and
    # scalars carry the values
    priority = 'NORMAL'

    def __init__(self,
                 max_samples: int = 2000,
                 per_batch: int = 256,
                 plot: bool = False,
                 seed: int = 0):
        check_int('FeatureSpaceHook: max_samples', max_samples, 1)
        check_int('FeatureSpaceHook: per_batch', per_batch, 1)
        self.max_samples = max_samples
        self.per_batch = per_batch
        self.plot = plot
        self.seed = seed
        self._handle = None
        self._captured: List[torch.Tensor] = []
        self._features: List[torch.Tensor] = []
        self._labels: List[torch.Tensor] = []
        self._skip: Optional[str] = None
        self._warned = set()

    # -- capture ---------------------------------------------------------
    def _start(self, runner) -> None:
        self._features, self._labels, self._captured = [], [], []
        self._skip = None
        self._generator = torch.Generator().manual_seed(self.seed)
        self._budget = max(1, self.max_samples // get_world_size())
        try:
            head = find_head(runner.model)
        except ValueError as err:
            self._skip = str(err)
            return
        classifier = getattr(head, 'fc', None) or getattr(
            head, 'conv_seg', None)
        if not isinstance(classifier, nn.Module):
            self._skip = (f'{type(head).__name__} has no `fc` or `conv_seg` '
                          'classifier to read features from')
            return

        def capture(module, args):
            self._captured.append(args[0].detach())

        self._handle = classifier.register_forward_pre_hook(capture)
        self._ignore_index = getattr(head, 'ignore_index', None)

    def _labels_of(self, outputs, features: torch.Tensor):
        """Per-feature labels, or None (with ``self._skip`` set)."""
        key = 'gt_sem_seg' if features.dim() == 4 else 'gt_label'
        if not all(key in output for output in outputs):
            self._skip = f'the outputs carry no {key} (an unlabelled set)'
            return None
        if key == 'gt_label':
            return torch.cat([o.gt_label for o in outputs]).to(features.device)
        labels = [  # per image: original sizes may differ
            labels_at(o.gt_sem_seg.data[None].to(features.device),
                      features.shape[2:])[0] for o in outputs
        ]
        return torch.stack(labels).flatten()

    def _collect(self, outputs) -> None:
        captured, self._captured = self._captured, []
        kept = sum(len(f) for f in self._features)
        if self._skip is not None or kept >= self._budget or not captured:
            return
        if len(captured) > 1:
            self._skip = ('the classifier ran several times per batch '
                          '(sliding-window inference or test-time '
                          'augmentation), so its features do not line up '
                          'with the labels')
            return
        features = captured[0]
        labels = self._labels_of(outputs, features)
        if labels is None:
            return
        if features.dim() == 4:  # (N, C, h, w) pixels
            features = pixel_rows(features)
            valid = labels != self._ignore_index
            features, labels = features[valid], labels[valid]
        take = min(self.per_batch, self._budget - kept, len(labels))
        pick = torch.randperm(len(labels), generator=self._generator)[:take]
        pick = pick.to(features.device)
        self._features.append(features[pick].float().cpu())
        self._labels.append(labels[pick].cpu())

    def _finish(self, runner, mode: str, metrics: Optional[dict]) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        # every rank takes part in the gather, whatever it collected
        local = (self._skip, self._features, self._labels)
        shares = all_gather_object(local) if get_world_size() > 1 else [local]
        skip = next((s[0] for s in shares if s[0] is not None), None)
        if skip is not None:
            if skip not in self._warned:
                self._warned.add(skip)
                runner.logger.warning(
                    f'FeatureSpaceHook: feature statistics skipped: {skip}.')
            return
        features = [f for share in shares for f in share[1]]
        labels = [y for share in shares for y in share[2]]
        if not features:
            return
        features, labels = torch.cat(features), torch.cat(labels)
        stats = feature_space_stats(features, labels)
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'{mode}/feature_{key}', value)
            if metrics is not None:
                metrics[f'feature_{key}'] = value
        runner.logger.info('Feature space (%s, %d samples): ' %
                           (mode, len(labels)) +
                           ', '.join(f'{k} {v:.4f}' for k, v in stats.items()))
        if self.plot and is_main_process():
            self._scatter(runner, features, labels, mode)

    def _scatter(self, runner, features, labels, mode) -> str:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        centred = F.normalize(features, dim=1)
        centred = centred - centred.mean(dim=0)
        _, _, v = torch.pca_lowrank(centred, q=2, center=False)
        xy = (centred @ v[:, :2]).numpy()
        fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
        for c in labels.unique().tolist():
            mask = (labels == c).numpy()
            ax.scatter(xy[mask, 0], xy[mask, 1], s=4, label=str(c))
        ax.set_title(f'{mode} features, iteration {runner.iter} (PCA)')
        ax.legend(markerscale=3, fontsize=6, ncol=2)
        out_dir = osp.join(runner.work_dir, 'feature_space')
        os.makedirs(out_dir, exist_ok=True)
        path = osp.join(out_dir, f'{mode}_iter_{runner.iter}.png')
        fig.savefig(path, bbox_inches='tight')
        # and through the runner's visualizer: its backends (local files,
        # TensorBoard, W&B, ...) get the same picture
        fig.canvas.draw()
        image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        runner.visualizer.add_image(
            f'{mode}_feature_space', image, step=runner.iter)
        plt.close(fig)
        return path

    # -- MMEngine hook points ------------------------------------------------
    # ``Hook``'s val and test methods dispatch to these with their mode.
    def _before_epoch(self, runner, mode: str = 'train') -> None:
        if mode != 'train':
            self._start(runner)

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch=None,
                    outputs=None,
                    mode: str = 'train') -> None:
        if mode != 'train':
            self._collect(outputs)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._finish(runner, 'val', metrics)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._finish(runner, 'test', metrics)
