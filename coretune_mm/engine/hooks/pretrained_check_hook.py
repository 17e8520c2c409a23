"""Fail the run when the pre-trained backbone did not actually load."""
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner.checkpoint import CheckpointLoader

from coretune_mm.checkpoint.loading import tensors_of
from coretune_mm.checkpoint.vit_conversion import TIMM_VIT_KEY
from .utils import unwrap

__all__ = ['PretrainedCheckHook']


def _matching_prefix(keys: List[str], backbone_keys: List[str]) -> str:
    """The prefix under which most backbone keys appear in ``keys``."""
    best, best_hits = None, 0
    anchors = {'conv1.weight', 'patch_embed.projection.weight'}
    anchors.update(backbone_keys[:1])  # any backbone's first tensor
    for key in keys:
        for name in anchors:
            if key.endswith(name):
                prefix = key[:-len(name)]
                hits = sum(prefix + k in keys for k in backbone_keys)
                if hits > best_hits:
                    best, best_hits = prefix, hits
    return best


@HOOKS.register_module()
class PretrainedCheckHook(Hook):
    """Check, before training, that the backbone holds the checkpoint.

    MMEngine loads ``init_cfg=dict(type='Pretrained', ...)`` non-strictly, so
    a key prefix that does not match leaves the backbone random and the run
    "works" with poor numbers. This hook compares every backbone tensor with
    the checkpoint (after the prefix is stripped) and stops the run with the
    missing and unexpected keys and the prefix that would have matched.

    Skipped, with a log line, when the backbone has no ``Pretrained``
    ``init_cfg`` and no ``checkpoint`` is given, or when the run has loaded
    another checkpoint (``--resume`` or ``load_from``; ``--resume`` with no
    checkpoint in the work dir is checked).

    Args:
        checkpoint (str, optional): Checkpoint to compare with. Defaults to
            the backbone's ``init_cfg.checkpoint``.
        prefix (str, optional): Prefix of the backbone keys in it. Defaults
            to the backbone's ``init_cfg.prefix``.
        min_loaded_ratio (float): Share of backbone tensors that must equal
            the checkpoint. Defaults to 1.0 (the classifier and projection
            layers are not part of the backbone).
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 checkpoint: Optional[str] = None,
                 prefix: Optional[str] = None,
                 min_loaded_ratio: float = 1.0):
        if not 0 < min_loaded_ratio <= 1:
            raise ValueError('PretrainedCheckHook: min_loaded_ratio must lie '
                             f'in (0, 1], got {min_loaded_ratio}')
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.min_loaded_ratio = min_loaded_ratio
        self._loaded = False

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # only a checkpoint really loaded replaces the pre-trained weights:
        # ``--resume`` in a work dir without one is a fresh run
        self._loaded = True

    def before_train(self, runner) -> None:
        backbone = unwrap(runner.model).backbone
        init_cfg = getattr(backbone, 'init_cfg', None) or {}
        if isinstance(init_cfg, (list, tuple)):
            init_cfg = next(
                (c for c in init_cfg if c.get('type') == 'Pretrained'), {})
        checkpoint = self.checkpoint or (init_cfg.get(
            'checkpoint') if init_cfg.get('type') == 'Pretrained' else None)
        if checkpoint is None:
            print_log(
                'PretrainedCheckHook: the backbone has no pre-trained '
                'checkpoint; nothing to check.',
                logger='current')
            return
        if self._loaded:
            print_log(
                'PretrainedCheckHook: weights come from resume/load_from; '
                'pre-trained check skipped.',
                logger='current')
            return
        prefix = self.prefix if self.prefix is not None else init_cfg.get(
            'prefix', '')
        self.check(backbone, checkpoint, prefix or '')

    def check(self, backbone: torch.nn.Module, checkpoint: str,
              prefix: str) -> float:
        """Compare ``backbone`` with ``checkpoint``; raise when too few match.

        Returns:
            float: the share of backbone tensors equal to the checkpoint.
        """
        saved = tensors_of(
            CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu'))
        model_state = {
            k: v
            for k, v in backbone.state_dict().items()
            if not k.endswith('num_batches_tracked')
        }
        loaded, missing = [], []
        for name, value in model_state.items():
            stored = saved.get(prefix + name)
            if stored is not None and stored.shape == value.shape and \
                    torch.equal(stored.to(value.device, value.dtype), value):
                loaded.append(name)
            else:
                missing.append(name)
        ratio = len(loaded) / max(len(model_state), 1)
        if ratio >= self.min_loaded_ratio:
            print_log(
                f'PretrainedCheckHook: {len(loaded)}/{len(model_state)} '
                f'backbone tensors match {checkpoint}.',
                logger='current')
            return ratio
        unexpected = [
            k for k in saved
            if k.startswith(prefix) and k[len(prefix):] not in model_state
        ]
        if any(k.endswith(TIMM_VIT_KEY) for k in saved) and not any(
                k.endswith(TIMM_VIT_KEY) for k in model_state):
            # a timm-named ViT for a backbone with other names: its
            # cls_token and pos_embed would suggest a prefix in vain
            hint = (" It holds a ViT under timm's names (a MoCo v3 or DINO "
                    'release): convert it first with '
                    'tools/model_converters/convert_checkpoint.py.')
        else:
            suggestion = _matching_prefix(list(saved), list(model_state))
            hint = (f" The checkpoint's backbone is under prefix "
                    f"'{suggestion}': set model.backbone.init_cfg.prefix="
                    f"'{suggestion}'."
                    if suggestion is not None and suggestion != prefix else '')
        raise RuntimeError(
            f'PretrainedCheckHook: only {len(loaded)}/{len(model_state)} '
            f'backbone tensors ({ratio:.0%}, need '
            f'{self.min_loaded_ratio:.0%}) were loaded from {checkpoint} '
            f"with prefix '{prefix}'.{hint} Missing (first 10): "
            f'{missing[:10]}. Unexpected under the prefix (first 10): '
            f'{unexpected[:10]}.')
