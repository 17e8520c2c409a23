"""Recognise and convert contrastive (CSL) ResNet checkpoint layouts."""
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

import torch

from .loading import tensors_of

__all__ = [
    'LAYOUTS', 'ConvertedCheckpoint', 'detect_layout', 'detect_depth',
    'convert_csl_checkpoint', 'resnet_backbone_shapes',
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

# blocks per stage -> depth; ResNet-34 and -50 share (3, 4, 6, 3) and differ
# by their block (BasicBlock has no ``conv3``).
_DEPTHS = {
    (2, 2, 2, 2): (18, ),
    (3, 4, 6, 3): (34, 50),
    (3, 4, 23, 3): (101, ),
    (3, 8, 36, 3): (152, ),
}
_BLOCK = re.compile(r'^layer([1-4])\.(\d+)\.')
_BACKBONE = re.compile(r'^(conv1|bn1|layer\d+)\.')


def resnet_backbone_shapes(depth: int = 50) -> Dict[str, torch.Size]:
    """Names and shapes of a torchvision ResNet without its classifier.

    Args:
        depth (int): 18, 34, 50, 101 or 152. Defaults to 50.
    """
    import torchvision.models as tvm
    if depth not in (18, 34, 50, 101, 152):
        raise ValueError(f'depth: expected 18, 34, 50, 101 or 152, got '
                         f'{depth!r}')
    model = getattr(tvm, f'resnet{depth}')(weights=None)
    return {
        k: v.shape
        for k, v in model.state_dict().items() if not k.startswith('fc.')
    }


def resnet50_backbone_shapes() -> Dict[str, torch.Size]:
    """Names and shapes of a torchvision ResNet-50 without its classifier."""
    return resnet_backbone_shapes(50)


def detect_depth(names: Iterable[str]) -> int:
    """The ResNet depth whose blocks ``names`` (prefix stripped) hold.

    Raises:
        ValueError: the block counts per stage match no torchvision ResNet.
    """
    blocks = [0, 0, 0, 0]
    bottleneck = False
    for name in names:
        match = _BLOCK.match(name)
        if match:
            stage = int(match.group(1)) - 1
            blocks[stage] = max(blocks[stage], int(match.group(2)) + 1)
            bottleneck = bottleneck or name.endswith('.conv3.weight')
    depths = _DEPTHS.get(tuple(blocks))
    if depths is None:
        raise ValueError(
            f'checkpoint: blocks per stage {tuple(blocks)} match no ResNet '
            f'(18/34: (2, 2, 2, 2)/(3, 4, 6, 3), 50: (3, 4, 6, 3), '
            '101: (3, 4, 23, 3), 152: (3, 8, 36, 3))')
    if len(depths) == 2:
        return depths[1] if bottleneck else depths[0]
    return depths[0]


def detect_layout(checkpoint: dict) -> str:
    """The name of the layout in :data:`LAYOUTS` that ``checkpoint`` uses.

    Raises:
        ValueError: no layout holds a ResNet stem (``conv1.weight``).
    """
    if not isinstance(checkpoint, dict):
        raise ValueError('checkpoint: expected a dict of tensors, got '
                         f'{type(checkpoint).__name__}')
    for name, (container, prefix) in LAYOUTS.items():
        state = tensors_of(checkpoint, container)
        if isinstance(state, dict) and f'{prefix}conv1.weight' in state and \
                f'{prefix}layer1.0.conv1.weight' in state:
            return name
    sample = list(tensors_of(checkpoint, None))[:5]
    raise ValueError(
        'checkpoint: unknown layout; expected a ResNet under one of the '
        f'prefixes {[p for _, p in LAYOUTS.values()]}, first keys are '
        f'{sample}')


class ConvertedCheckpoint(NamedTuple):
    """What :func:`convert_csl_checkpoint` returns."""
    state_dict: Dict[str, torch.Tensor]
    layout: str
    depth: int
    dropped: List[str]


def convert_csl_checkpoint(checkpoint: dict,
                           out_prefix: str = 'module.encoder_q.',
                           num_batches_tracked_optional: bool = True,
                           depth: Optional[int] = None) -> ConvertedCheckpoint:
    """Extract a ResNet backbone from a CSL checkpoint.

    Args:
        checkpoint (dict): The loaded checkpoint.
        out_prefix (str): Prefix of the output keys. The default is what the
            shipped configs load (``init_cfg.prefix='module.encoder_q.'``).
        num_batches_tracked_optional (bool): Old checkpoints lack BN's
            ``num_batches_tracked``; do not require it. Defaults to True.
        depth (int, optional): The ResNet depth the checkpoint must have.
            Defaults to the depth its blocks show (18, 34, 50, 101, 152).

    Returns:
        ConvertedCheckpoint: the converted state dict, the detected layout,
        the depth and the dropped keys (projection heads, queues, momentum
        encoders, ...).

    Raises:
        ValueError: unknown layout, a depth other than ``depth``, a missing
            backbone tensor (e.g. a truncated file), a tensor of the wrong
            shape or a backbone tensor no ResNet of that depth has.
    """
    layout = detect_layout(checkpoint)
    container, prefix = LAYOUTS[layout]
    state = tensors_of(checkpoint, container)
    names = [k[len(prefix):] for k in state if k.startswith(prefix)]
    found = detect_depth(names)
    if depth is not None and found != depth:
        raise ValueError(f'checkpoint ({layout}): expected a ResNet-{depth}, '
                         f'its blocks are those of a ResNet-{found}')
    expected = resnet_backbone_shapes(found)
    backbone, dropped = {}, []
    for key, value in state.items():
        name = key[len(prefix):] if key.startswith(prefix) else None
        if name is None or name.startswith(_NOT_BACKBONE):
            dropped.append(key)
            continue
        if name not in expected:
            if _BACKBONE.match(name):
                raise ValueError(
                    f'checkpoint ({layout}): {key} is not part of a '
                    f'ResNet-{found} (the depth its blocks show)')
            dropped.append(key)
            continue
        if tuple(value.shape) != tuple(expected[name]):
            raise ValueError(
                f'checkpoint: {key} has shape {tuple(value.shape)}, a '
                f'ResNet-{found} needs {tuple(expected[name])}')
        backbone[name] = value
    missing = [
        k for k in expected if k not in backbone and not (
            num_batches_tracked_optional and k.endswith('num_batches_tracked'))
    ]
    if missing:
        raise ValueError(
            f'checkpoint ({layout}): {len(missing)} ResNet-{found} tensors '
            f'are missing (truncated file?), e.g. {missing[:5]}')
    converted = OrderedDict((out_prefix + k, v) for k, v in backbone.items())
    return ConvertedCheckpoint(converted, layout, found, dropped)
