"""Recognise and convert contrastive (CSL) ResNet-50 checkpoint layouts."""
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import torch

__all__ = [
    'LAYOUTS', 'detect_layout', 'convert_csl_checkpoint',
    'resnet50_backbone_shapes'
]

# name -> (container key or None, key prefix of the backbone); tried in order,
# the first whose prefix holds a ResNet stem wins.
LAYOUTS: Dict[str, Tuple[Optional[str], str]] = OrderedDict([
    ('moco_v1_v2', ('state_dict', 'module.encoder_q.')),
    ('moco_v3', ('state_dict', 'module.base_encoder.')),
    ('infomin_pycontrast', ('model', 'module.encoder.')),
    ('mmpretrain_selfsup', ('state_dict', 'backbone.')),
    ('swav_deepcluster', (None, 'module.')),
    ('torchvision', (None, '')),
])

_NOT_BACKBONE = ('fc.', 'head.', 'heads.', 'projection_head.', 'prototypes.',
                 'predictor.')


def resnet50_backbone_shapes() -> Dict[str, torch.Size]:
    """Names and shapes of a torchvision ResNet-50 without its classifier."""
    from torchvision.models import resnet50
    return {
        k: v.shape
        for k, v in resnet50(weights=None).state_dict().items()
        if not k.startswith('fc.')
    }


def _state_dict_of(checkpoint: dict, container: Optional[str]) -> dict:
    if container is None:
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), dict):
                return checkpoint[key]
        return checkpoint
    return checkpoint.get(container) or {}


def detect_layout(checkpoint: dict) -> str:
    """The name of the layout in :data:`LAYOUTS` that ``checkpoint`` uses.

    Raises:
        ValueError: no layout holds a ResNet stem (``conv1.weight``).
    """
    if not isinstance(checkpoint, dict):
        raise ValueError('checkpoint: expected a dict of tensors, got '
                         f'{type(checkpoint).__name__}')
    for name, (container, prefix) in LAYOUTS.items():
        state = _state_dict_of(checkpoint, container)
        if isinstance(state, dict) and f'{prefix}conv1.weight' in state and \
                f'{prefix}layer1.0.conv1.weight' in state:
            return name
    sample = list(_state_dict_of(checkpoint, None))[:5]
    raise ValueError(
        'checkpoint: unknown layout; expected a ResNet under one of the '
        f'prefixes {[p for _, p in LAYOUTS.values()]}, first keys are '
        f'{sample}')


def convert_csl_checkpoint(
        checkpoint: dict,
        out_prefix: str = 'module.encoder_q.',
        num_batches_tracked_optional: bool = True
) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """Extract a ResNet-50 backbone from a CSL checkpoint.

    Args:
        checkpoint (dict): The loaded checkpoint.
        out_prefix (str): Prefix of the output keys. The default is what the
            shipped configs load (``init_cfg.prefix='module.encoder_q.'``).
        num_batches_tracked_optional (bool): Old checkpoints lack BN's
            ``num_batches_tracked``; do not require it. Defaults to True.

    Returns:
        tuple: the converted state dict, the detected layout and the list of
        dropped keys (projection heads, queues, momentum encoders, ...).

    Raises:
        ValueError: unknown layout, a missing backbone tensor (e.g. a
            truncated file) or a tensor of the wrong shape.
    """
    layout = detect_layout(checkpoint)
    container, prefix = LAYOUTS[layout]
    state = _state_dict_of(checkpoint, container)
    expected = resnet50_backbone_shapes()
    backbone, dropped = {}, []
    for key, value in state.items():
        name = key[len(prefix):] if key.startswith(prefix) else None
        if name is None or name.startswith(_NOT_BACKBONE) or \
                name not in expected:
            dropped.append(key)
            continue
        if tuple(value.shape) != tuple(expected[name]):
            raise ValueError(
                f'checkpoint: {key} has shape {tuple(value.shape)}, a '
                f'ResNet-50 needs {tuple(expected[name])}')
        backbone[name] = value
    missing = [
        k for k in expected if k not in backbone and not (
            num_batches_tracked_optional and k.endswith('num_batches_tracked'))
    ]
    if missing:
        raise ValueError(
            f'checkpoint ({layout}): {len(missing)} ResNet-50 tensors are '
            f'missing (truncated or not a ResNet-50?), e.g. {missing[:5]}')
    converted = OrderedDict((out_prefix + k, v) for k, v in backbone.items())
    return converted, layout, dropped
