"""Linear warm-up of Core-tuning's loss weights."""
from typing import List, Tuple

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from coretune_mm.core import find_core_tuning
from .utils import unwrap

__all__ = ['ContrastWarmupHook']


@HOOKS.register_module()
class ContrastWarmupHook(Hook):
    """Ramp the contrastive weight eta (and ``mix_weight``) from 0 over K
    iterations.

    The targets are the model's :class:`coretune_mm.core.CoreTuning`
    modules (:func:`coretune_mm.core.find_core_tuning`) and, with
    ``mix_weight=True``, the heads that own them. Derived from the
    iteration counter, so ``--resume`` continues the ramp. The current
    weights are logged as ``train/contrast_weight`` (and
    ``train/mix_weight``).

    Args:
        warmup_iters (int): K, > 0.
        mix_weight (bool): Also ramp the head's ``mix_weight`` (pixel heads
            with the smooth classifier). Defaults to False.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int, mix_weight: bool = False):
        if not (isinstance(warmup_iters, int) and warmup_iters > 0):
            raise ValueError('ContrastWarmupHook: warmup_iters must be a '
                             f'positive int, got {warmup_iters!r}')
        self.warmup_iters = warmup_iters
        self.mix_weight = mix_weight
        # (module, attribute, full value)
        self.targets: List[Tuple[nn.Module, str, float]] = []

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        modules = find_core_tuning(model)
        if not modules:
            raise ValueError('ContrastWarmupHook needs a Core-tuning head '
                             'with contrast_weight > 0')
        self.targets = [(core, 'contrast_weight', core.contrast_weight)
                        for core in modules.values()]
        if self.mix_weight:
            for name in modules:
                head = model.get_submodule(name.rpartition('.')[0])
                if not hasattr(head, 'mix_weight'):
                    raise ValueError(
                        'ContrastWarmupHook: mix_weight=True needs a head '
                        f'with mix_weight; {type(head).__name__} has none')
                self.targets.append((head, 'mix_weight', head.mix_weight))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        scale = min(1.0, (runner.iter + 1) / self.warmup_iters)
        logged = set()
        for owner, name, target in self.targets:
            setattr(owner, name, target * scale)
            if name not in logged:
                logged.add(name)
                runner.message_hub.update_scalar(f'train/{name}',
                                                 target * scale)
