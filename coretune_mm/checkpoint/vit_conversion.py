"""Convert MoCo v3 and DINO ViT releases (timm names) to MMPretrain's
``VisionTransformer`` names, checking every tensor by name and shape."""
import re
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch

__all__ = [
    'VIT_LAYOUTS', 'ViTArch', 'ConvertedViT', 'detect_vit_layout',
    'convert_vit_checkpoint', 'is_vit_checkpoint', 'TIMM_VIT_KEY'
]

# name -> (container key or None, key prefix of the ViT); tried in order.
VIT_LAYOUTS: Dict[str, Tuple[Optional[str], str]] = OrderedDict([
    # MoCo v3's vit_*-300ep.pth.tar: the momentum encoder and predictor
    # next to the base encoder
    ('moco_v3_vit', ('state_dict', 'module.base_encoder.')),
    # DINO's full checkpoints: teacher and student
    ('dino_vit_teacher', ('teacher', 'backbone.')),
    # DINO's *_pretrain.pth backbones: the bare ViT
    ('dino_vit', (None, '')),
])
# attention heads cannot be read from the weights: the releases' values
_HEADS = {
    'moco_v3_vit': {
        384: 12,
        768: 12,
        1024: 16
    },
    'dino_vit': {
        384: 6,
        768: 12
    },
}
_BLOCK = re.compile(r'^blocks\.(\d+)\.(.+)$')
# timm -> MMPretrain, inside a block
_BLOCK_NAMES = {
    'norm1': 'ln1',
    'attn.qkv': 'attn.qkv',
    'attn.proj': 'attn.proj',
    'norm2': 'ln2',
    'mlp.fc1': 'ffn.layers.0.0',
    'mlp.fc2': 'ffn.layers.1',
}
_TOP_NAMES = {
    'cls_token': 'cls_token',
    'pos_embed': 'pos_embed',
    'patch_embed.proj.weight': 'patch_embed.projection.weight',
    'patch_embed.proj.bias': 'patch_embed.projection.bias',
    'norm.weight': 'ln1.weight',
    'norm.bias': 'ln1.bias',
}
# not the backbone: projection / classification heads
_NOT_BACKBONE = ('head.', 'fc_norm.')


class ViTArch(NamedTuple):
    """What a ViT checkpoint's tensors say about its architecture."""
    embed_dims: int
    num_layers: int
    num_heads: Optional[int]
    feedforward_channels: int
    patch_size: int
    img_size: int

    def backbone_cfg(self) -> dict:
        """MMPretrain's ``VisionTransformer`` arguments for it."""
        return dict(
            type='VisionTransformer',
            arch=dict(
                embed_dims=self.embed_dims,
                num_layers=self.num_layers,
                num_heads=self.num_heads,
                feedforward_channels=self.feedforward_channels),
            img_size=self.img_size,
            patch_size=self.patch_size)


class ConvertedViT(NamedTuple):
    """What :func:`convert_vit_checkpoint` returns."""
    state_dict: Dict[str, torch.Tensor]
    layout: str
    arch: ViTArch
    dropped: List[str]


def _state_of(checkpoint: dict, container: Optional[str]) -> dict:
    state = checkpoint if container is None else checkpoint.get(container)
    return state if isinstance(state, dict) else {}


# the key that shows a timm-named ViT (MoCo v3, DINO), whatever surrounds it
TIMM_VIT_KEY = 'blocks.0.attn.qkv.weight'


def _vit_at(state: dict, prefix: str) -> bool:
    """Whether ``state`` holds a timm-named ViT under ``prefix``: its first
    block beside a class token or a patch embedding (a hierarchical model such
    as Swin has its blocks under ``layers.<i>.`` instead)."""
    return f'{prefix}{TIMM_VIT_KEY}' in state and (
        f'{prefix}cls_token' in state or any(
            isinstance(k, str) and k.startswith(f'{prefix}patch_embed.')
            for k in state))


def _vits_anywhere(checkpoint: dict) -> List[str]:
    """Where timm-named ViTs are, at the top level or one container deep:

    ``"'<container>' under '<prefix>'"`` descriptions.
    """
    places = []
    containers = [(None, checkpoint)] + [(key, value)
                                         for key, value in checkpoint.items()
                                         if isinstance(value, dict)]
    for container, state in containers:
        for key in state:
            if isinstance(key, str) and key.endswith(TIMM_VIT_KEY) and \
                    _vit_at(state, key[:-len(TIMM_VIT_KEY)]):
                where = 'the top level' if container is None \
                    else repr(container)
                places.append(f"{where} under '{key[:-len(TIMM_VIT_KEY)]}'")
    return places


def is_vit_checkpoint(checkpoint) -> bool:
    """Whether ``checkpoint`` holds a timm-named ViT, in one of
    :data:`VIT_LAYOUTS` or elsewhere (which :func:`detect_vit_layout` then
    refuses with where it found them)."""
    return isinstance(checkpoint, dict) and bool(_vits_anywhere(checkpoint))


def detect_vit_layout(checkpoint: dict) -> str:
    """The name of the layout in :data:`VIT_LAYOUTS` ``checkpoint`` uses.

    Raises:
        ValueError: no layout holds a ViT (``blocks.0`` beside a
            ``cls_token`` or a ``patch_embed``).
    """
    if not isinstance(checkpoint, dict):
        raise ValueError('checkpoint: expected a dict of tensors, got '
                         f'{type(checkpoint).__name__}')
    for name, (container, prefix) in VIT_LAYOUTS.items():
        if _vit_at(_state_of(checkpoint, container), prefix):
            return name
    places = _vits_anywhere(checkpoint)
    if places:
        known = ', '.join(
            f"{name}: {repr(container) if container else 'the top level'} "
            f"under '{prefix}'"
            for name, (container, prefix) in VIT_LAYOUTS.items())
        raise ValueError(
            f'checkpoint: a ViT found at {"; ".join(places)}, which is not '
            f'a known layout ({known}); move it to one of them')
    raise ValueError(
        'checkpoint: no ViT found; expected MoCo v3 (state_dict with '
        "'module.base_encoder.cls_token') or DINO ('cls_token', "
        "'blocks.0.attn.qkv.weight', or a 'teacher' with 'backbone.')")


def _arch(state: dict, layout: str) -> ViTArch:
    """Read the architecture from the tensors (prefix stripped)."""
    if 'patch_embed.proj.weight' not in state and any(
            k.startswith('patch_embed.') for k in state):
        raise ValueError(
            f'checkpoint ({layout}): the patch embedding is not one '
            f"'patch_embed.proj' convolution (found "
            f'{sorted(k for k in state if k.startswith("patch_embed."))[:4]}'
            "): a convolutional stem, such as MoCo v3's vit_conv_* models, "
            "has no counterpart in MMPretrain's VisionTransformer")
    needed = ('cls_token', 'pos_embed', 'patch_embed.proj.weight',
              'blocks.0.mlp.fc1.weight')
    missing = [k for k in needed if k not in state]
    if missing:
        raise ValueError(
            f'checkpoint ({layout}): {missing} missing; the architecture '
            'is read from them (truncated file?)')
    embed = state['cls_token'].shape[-1]
    layers = 1 + max(
        int(m.group(1)) for m in map(_BLOCK.match, state) if m is not None)
    ffn = state['blocks.0.mlp.fc1.weight'].shape[0]
    patch = state['patch_embed.proj.weight'].shape[-1]
    tokens = state['pos_embed'].shape[1] - 1
    side = int(round(tokens**0.5))
    if side * side != tokens:
        raise ValueError(f'checkpoint: pos_embed holds {tokens} patch '
                         'positions, not a square grid')
    family = 'dino_vit' if layout.startswith('dino') else layout
    return ViTArch(embed, layers, _HEADS[family].get(embed), ffn, patch,
                   side * patch)


def _expected_shapes(arch: ViTArch) -> Dict[str, Tuple[int, ...]]:
    """Timm names and shapes of a ViT of ``arch`` without its head."""
    d, f, p = arch.embed_dims, arch.feedforward_channels, arch.patch_size
    tokens = (arch.img_size // p)**2 + 1
    shapes = {
        'cls_token': (1, 1, d),
        'pos_embed': (1, tokens, d),
        'patch_embed.proj.weight': (d, 3, p, p),
        'patch_embed.proj.bias': (d, ),
        'norm.weight': (d, ),
        'norm.bias': (d, ),
    }
    block = {
        'norm1.weight': (d, ),
        'norm1.bias': (d, ),
        'attn.qkv.weight': (3 * d, d),
        'attn.qkv.bias': (3 * d, ),
        'attn.proj.weight': (d, d),
        'attn.proj.bias': (d, ),
        'norm2.weight': (d, ),
        'norm2.bias': (d, ),
        'mlp.fc1.weight': (f, d),
        'mlp.fc1.bias': (f, ),
        'mlp.fc2.weight': (d, f),
        'mlp.fc2.bias': (d, ),
    }
    for index in range(arch.num_layers):
        shapes.update({f'blocks.{index}.{k}': v for k, v in block.items()})
    return shapes


def _mmpretrain_name(name: str) -> str:
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    index, rest = _BLOCK.match(name).groups()
    module, param = rest.rsplit('.', 1)
    return f'layers.{index}.{_BLOCK_NAMES[module]}.{param}'


def convert_vit_checkpoint(checkpoint: dict,
                           out_prefix: str = 'backbone.') -> ConvertedViT:
    """Extract the ViT of a MoCo v3 or DINO checkpoint in MMPretrain's names.

    Args:
        checkpoint (dict): The loaded checkpoint.
        out_prefix (str): Prefix of the output keys; the shipped ViT configs
            load ``init_cfg.prefix='backbone.'``. Defaults to ``'backbone.'``.

    Returns:
        ConvertedViT: the converted state dict, the layout, the architecture
        read from the tensors (heads: the release's value) and the dropped
        keys (heads, the momentum encoder, the predictor, ...).

    Raises:
        ValueError: no ViT, a missing tensor (e.g. a truncated file), a
            tensor of the wrong shape, or a backbone tensor a ViT of the
            detected architecture does not have.
    """
    layout = detect_vit_layout(checkpoint)
    container, prefix = VIT_LAYOUTS[layout]
    full = _state_of(checkpoint, container)
    state = {
        k[len(prefix):]: v
        for k, v in full.items() if k.startswith(prefix)
    }
    arch = _arch(state, layout)
    expected = _expected_shapes(arch)
    converted, dropped = OrderedDict(), [
        k for k in full if not k.startswith(prefix)
    ]
    for name, value in state.items():
        if name.startswith(_NOT_BACKBONE):
            dropped.append(prefix + name)
            continue
        if name not in expected:
            raise ValueError(
                f'checkpoint ({layout}): {prefix}{name} is not part of a '
                f'ViT with {arch.num_layers} blocks of width '
                f'{arch.embed_dims} (what its tensors show)')
        if tuple(value.shape) != expected[name]:
            raise ValueError(
                f'checkpoint ({layout}): {prefix}{name} has shape '
                f'{tuple(value.shape)}, expected {expected[name]}')
        converted[out_prefix + _mmpretrain_name(name)] = value
    missing = [k for k in expected if k not in state]
    if missing:
        raise ValueError(
            f'checkpoint ({layout}): {len(missing)} ViT tensors are missing '
            f'(truncated file?), e.g. {missing[:5]}')
    return ConvertedViT(converted, layout, arch, dropped)
