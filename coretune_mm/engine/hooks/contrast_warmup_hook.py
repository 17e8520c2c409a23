"""Linear warm-up of Core-tuning's loss weights."""
from typing import List, Tuple

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from coretune_mm.core import check_bools, check_int, find_core_tuning
from .utils import unwrap

__all__ = ['ContrastWarmupHook']


@HOOKS.register_module()
class ContrastWarmupHook(Hook):
    """Ramp the contrastive weight eta (and ``mix_weight``) from 0 over K
    iterations.

    The targets are the weights of the model's
    :class:`coretune_mm.core.CoreTuning` modules
    (:func:`coretune_mm.core.find_core_tuning`), which own both. Derived
    from the iteration counter, so ``--resume`` continues the ramp. The
    current weights are logged as ``train/contrast_weight`` (and
    ``train/mix_weight``).

    Args:
        warmup_iters (int): K, > 0.
        mix_weight (bool): Also ramp ``mix_weight``, the weight of the pixel
            heads' separate smooth-classifier loss. Defaults to False.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int, mix_weight: bool = False):
        try:
            check_int('warmup_iters', warmup_iters, 1)
            check_bools(mix_weight=mix_weight)
        except ValueError as err:
            raise ValueError(f'ContrastWarmupHook: {err}') from None
        self.warmup_iters = warmup_iters
        self.mix_weight = mix_weight
        # (module, attribute, full value)
        self.targets: List[Tuple[nn.Module, str, float]] = []

    def before_train(self, runner) -> None:
        modules = find_core_tuning(unwrap(runner.model))
        if not modules:
            raise ValueError('ContrastWarmupHook needs a Core-tuning head '
                             'with contrast_weight > 0')
        self.targets = [(core, 'contrast_weight', core.contrast_weight)
                        for core in modules.values()]
        if self.mix_weight:
            for name, core in modules.items():
                if core.mix_weight is None:
                    raise ValueError(
                        'ContrastWarmupHook: mix_weight=True needs a head '
                        'with a separate smooth-classifier loss (loss_mix, '
                        f'the pixel heads); the Core-tuning of {name!r} has '
                        'no mix_weight')
                self.targets.append((core, 'mix_weight', core.mix_weight))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None):
        scale = min(1.0, (runner.iter + 1) / self.warmup_iters)
        logged = set()
        for owner, name, target in self.targets:
            setattr(owner, name, target * scale)
            if name not in logged:
                logged.add(name)
                runner.message_hub.update_scalar(f'train/{name}',
                                                 target * scale)
