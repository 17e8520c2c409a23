"""Log how compact and separated the classes are in feature space."""
import os
import os.path as osp
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from coretune_mm.core import feature_space_stats
from .utils import find_head

__all__ = ['FeatureSpaceHook']


@HOOKS.register_module()
class FeatureSpaceHook(Hook):
    """Feature-space diagnostics at each validation and test.

    Captures the input of the head's classifier (``fc`` for MMPretrain heads,
    ``conv_seg`` for decode heads: the pre-classifier features) on a bounded
    random sample of validation samples (pixels for segmentation, labels
    nearest-resized to the feature map, the ignore index left out), then logs
    ``{val,test}/feature_intra``, ``feature_inter_mean``,
    ``feature_inter_min`` and ``feature_ratio`` (see
    :func:`coretune_mm.core.feature_space_stats`) through the MessageHub and
    the visualizer. With ``plot=True`` it also writes a 2-D PCA scatter
    (one colour per class) to ``<work_dir>/feature_space/``.

    Training is untouched: the hook only observes evaluation forwards.

    Args:
        max_samples (int): Most features kept per evaluation. Defaults to
            2000.
        per_batch (int): Most features kept per batch. Defaults to 256.
        plot (bool): Write the scatter plot. Defaults to False.
        seed (int): Seed of the sampling. Defaults to 0.
    """

    priority = 'LOW'

    def __init__(self,
                 max_samples: int = 2000,
                 per_batch: int = 256,
                 plot: bool = False,
                 seed: int = 0):
        for name, value in (('max_samples', max_samples), ('per_batch',
                                                            per_batch)):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f'FeatureSpaceHook: {name} must be a '
                                 f'positive int, got {value!r}')
        self.max_samples = max_samples
        self.per_batch = per_batch
        self.plot = plot
        self.seed = seed
        self._handle = None
        self._captured: Optional[torch.Tensor] = None
        self._features: List[torch.Tensor] = []
        self._labels: List[torch.Tensor] = []

    # -- capture ---------------------------------------------------------
    def _start(self, runner) -> None:
        head = find_head(runner.model)
        classifier = getattr(head, 'fc', None) or getattr(head, 'conv_seg')
        self._features, self._labels = [], []
        self._generator = torch.Generator().manual_seed(self.seed)

        def capture(module, args):
            self._captured = args[0].detach()

        self._handle = classifier.register_forward_pre_hook(capture)
        self._ignore_index = getattr(head, 'ignore_index', None)

    def _collect(self, outputs) -> None:
        features, self._captured = self._captured, None
        kept = sum(len(f) for f in self._features)
        if features is None or kept >= self.max_samples:
            return
        if features.dim() == 4:  # (N, C, h, w) pixels
            gt = torch.stack([o.gt_sem_seg.data for o in outputs]).float()
            labels = F.interpolate(
                gt.to(features.device), size=features.shape[2:],
                mode='nearest').flatten().long()
            features = features.permute(0, 2, 3, 1).flatten(0, 2)
            valid = labels != self._ignore_index
            features, labels = features[valid], labels[valid]
        else:
            labels = torch.cat([o.gt_label for o in outputs]).to(
                features.device)
        take = min(self.per_batch, self.max_samples - kept, len(labels))
        pick = torch.randperm(len(labels), generator=self._generator)[:take]
        pick = pick.to(features.device)
        self._features.append(features[pick].float().cpu())
        self._labels.append(labels[pick].cpu())

    def _finish(self, runner, mode: str) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
        if not self._features:
            return
        features = torch.cat(self._features)
        labels = torch.cat(self._labels)
        stats = feature_space_stats(features, labels)
        scalars = {f'{mode}/feature_{k}': v for k, v in stats.items()}
        for key, value in scalars.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(scalars, step=runner.iter)
        runner.logger.info('Feature space (%s, %d samples): ' % (
            mode, len(labels)) + ', '.join(f'{k} {v:.4f}'
                                          for k, v in stats.items()))
        if self.plot:
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
        plt.close(fig)
        return path

    # -- MMEngine hook points ------------------------------------------------
    # ``Hook``'s val and test methods all dispatch to these with their mode.
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

    def _after_epoch(self, runner, mode: str = 'train') -> None:
        if mode != 'train':
            self._finish(runner, mode)
