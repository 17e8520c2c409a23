"""MoCo v3 / DINO ViT releases (timm names) to MMPretrain's names, on generated
checkpoints with the releases' key layouts."""
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

from coretune_mm.checkpoint import (convert_vit_checkpoint, detect_vit_layout,
                                    is_vit_checkpoint)

WIDTH, BLOCKS, MLP, PATCH, IMAGE = 16, 2, 40, 8, 32


def timm_vit(seed=0, with_head=True):
    """A ViT's tensors under timm's names, as the releases store them."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.2

    d, f, p = WIDTH, MLP, PATCH
    state = OrderedDict(
        cls_token=r(1, 1, d), pos_embed=r(1, (IMAGE // p)**2 + 1, d))
    state['patch_embed.proj.weight'] = r(d, 3, p, p)
    state['patch_embed.proj.bias'] = r(d)
    for i in range(BLOCKS):
        b = f'blocks.{i}.'
        state.update({
            b + 'norm1.weight': 1 + r(d),
            b + 'norm1.bias': r(d),
            b + 'attn.qkv.weight': r(3 * d, d),
            b + 'attn.qkv.bias': r(3 * d),
            b + 'attn.proj.weight': r(d, d),
            b + 'attn.proj.bias': r(d),
            b + 'norm2.weight': 1 + r(d),
            b + 'norm2.bias': r(d),
            b + 'mlp.fc1.weight': r(f, d),
            b + 'mlp.fc1.bias': r(f),
            b + 'mlp.fc2.weight': r(d, f),
            b + 'mlp.fc2.bias': r(d)
        })
    state['norm.weight'] = 1 + r(d)
    state['norm.bias'] = r(d)
    if with_head:
        state['head.0.weight'] = r(32, d)  # MoCo v3's projector
    return state


def release(layout, state):
    if layout == 'moco_v3_vit':
        out = OrderedDict()
        for prefix in ('module.base_encoder.', 'module.momentum_encoder.'):
            out.update((prefix + k, v) for k, v in state.items())
        out['module.predictor.0.weight'] = torch.zeros(4, 32)
        return dict(epoch=300, state_dict=out, optimizer={})
    if layout == 'dino_vit_teacher':
        teacher = OrderedDict(('backbone.' + k, v) for k, v in state.items()
                              if not k.startswith('head.'))
        teacher['head.mlp.0.weight'] = torch.zeros(4, WIDTH)
        return dict(teacher=teacher, student=dict(teacher), epoch=100)
    return OrderedDict(
        (k, v) for k, v in state.items() if not k.startswith('head.'))


def reference_vit(state, images, heads):
    """A ViT forward written from the architecture, on timm's names:

    the class token after the final norm.
    """
    d = WIDTH
    x = F.conv2d(
        images,
        state['patch_embed.proj.weight'],
        state['patch_embed.proj.bias'],
        stride=PATCH)
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([state['cls_token'].expand(len(x), -1, -1), x], dim=1)
    x = x + state['pos_embed']
    for i in range(BLOCKS):
        b = f'blocks.{i}.'
        h = F.layer_norm(x, (d, ), state[b + 'norm1.weight'],
                         state[b + 'norm1.bias'])
        qkv = F.linear(h, state[b + 'attn.qkv.weight'],
                       state[b + 'attn.qkv.bias'])
        q, k, v = qkv.view(len(x), -1, 3, heads,
                           d // heads).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) / math.sqrt(d // heads)).softmax(-1)
        h = (attn @ v).transpose(1, 2).reshape(len(x), -1, d)
        x = x + F.linear(h, state[b + 'attn.proj.weight'],
                         state[b + 'attn.proj.bias'])
        h = F.layer_norm(x, (d, ), state[b + 'norm2.weight'],
                         state[b + 'norm2.bias'])
        h = F.gelu(
            F.linear(h, state[b + 'mlp.fc1.weight'],
                     state[b + 'mlp.fc1.bias']))
        x = x + F.linear(h, state[b + 'mlp.fc2.weight'],
                         state[b + 'mlp.fc2.bias'])
    x = F.layer_norm(x, (d, ), state['norm.weight'], state['norm.bias'])
    return x[:, 0]


@pytest.mark.parametrize('layout',
                         ['moco_v3_vit', 'dino_vit_teacher', 'dino_vit'])
def test_converted_vit_computes_what_the_release_does(layout):
    from mmpretrain.registry import MODELS
    state = timm_vit()
    checkpoint = release(layout, state)
    assert detect_vit_layout(checkpoint) == layout
    converted = convert_vit_checkpoint(checkpoint)
    arch = converted.arch
    assert (arch.embed_dims, arch.num_layers, arch.feedforward_channels,
            arch.patch_size, arch.img_size) == (WIDTH, BLOCKS, MLP, PATCH,
                                                IMAGE)
    # the width-16 ViT is no release: choose the heads the reference uses
    heads = 4
    cfg = arch._replace(num_heads=heads).backbone_cfg()
    vit = MODELS.build(dict(cfg, out_type='cls_token'))
    vit.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in converted.state_dict.items()
    })
    vit.eval()
    images = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        ours = vit(images)[-1]
    torch.testing.assert_close(
        ours, reference_vit(state, images, heads), rtol=1e-4, atol=1e-4)
    assert all(not k.startswith('backbone.head') for k in converted.state_dict)
    if layout == 'moco_v3_vit':
        assert 'module.momentum_encoder.cls_token' in converted.dropped
        assert 'module.base_encoder.head.0.weight' in converted.dropped


def test_release_head_counts():
    for layout, heads in (('moco_v3_vit', 12), ('dino_vit', 6)):
        state = timm_vit()
        state = {
            k: torch.zeros(*v.shape[:-1], 384) if k == 'cls_token' else v
            for k, v in state.items()
        }
        from coretune_mm.checkpoint.vit_conversion import _arch
        assert _arch(state, layout).num_heads == heads


@pytest.mark.parametrize('damage, message', [
    (lambda s: s.pop('blocks.1.mlp.fc2.bias'), 'missing'),
    (lambda s: s.__setitem__('blocks.0.attn.proj.weight', torch.zeros(3, 3)),
     'blocks.0.attn.proj.weight has shape'),
    (lambda s: s.__setitem__('blocks.0.ls1.gamma', torch.zeros(WIDTH)),
     'is not part of a ViT with 2 blocks of width 16'),
])
def test_errors_name_the_tensor(damage, message):
    state = timm_vit(with_head=False)
    damage(state)
    with pytest.raises(ValueError, match=message):
        convert_vit_checkpoint(release('dino_vit', state))


def test_errors_for_the_architecture_tensors():
    """A convolutional stem (MoCo v3's vit_conv_*) and a missing tensor the
    architecture is read from are named, not a KeyError."""
    state = timm_vit(with_head=False)
    weight = state.pop('patch_embed.proj.weight')
    state['patch_embed.proj.0.weight'] = weight
    with pytest.raises(ValueError, match='convolutional stem'):
        convert_vit_checkpoint(release('moco_v3_vit', state))
    for name, layout in (('pos_embed', 'dino_vit'), ('cls_token',
                                                     'moco_v3_vit')):
        state = timm_vit(with_head=False)
        del state[name]
        with pytest.raises(ValueError, match=rf"\['{name}'\] missing"):
            convert_vit_checkpoint(release(layout, state))


def test_a_hierarchical_transformer_is_no_vit():
    """Swin-like names (blocks under ``layers.<i>.``, the patch embedding at
    the top) are not taken for a ViT; the ResNet branch refuses them."""
    swin = {
        'patch_embed.proj.weight': torch.zeros(4, 3, 4, 4),
        'layers.0.blocks.0.attn.qkv.weight': torch.zeros(12, 4)
    }
    assert not is_vit_checkpoint(swin)
    assert not is_vit_checkpoint(dict(state_dict=swin))


@pytest.mark.parametrize('wrap, where', [
    (lambda s: dict(model=s), "'model' under ''"),
    (lambda s: {
        f'module.{k}': v
        for k, v in s.items()
    }, "the top level under 'module.'"),
    (lambda s: dict(student={
        f'module.backbone.{k}': v
        for k, v in s.items()
    }), "'student' under 'module.backbone.'"),
])
def test_a_vit_in_another_layout_is_refused_with_where_it_is(
        wrap, where, tmp_path, load_tool):
    checkpoint = wrap(timm_vit(with_head=False))
    assert is_vit_checkpoint(checkpoint)
    with pytest.raises(ValueError, match='not a known layout') as err:
        detect_vit_layout(checkpoint)
    assert where in str(err.value)
    # the tool reports it as a ViT, not as a checkpoint that is no ResNet
    tool = load_tool('model_converters/convert_checkpoint.py')
    src = tmp_path / 'vit.pth'
    torch.save(checkpoint, src)
    with pytest.raises(SystemExit, match='not a known layout'):
        tool.main([str(src), str(tmp_path / 'out.pth')])


def test_not_a_vit():
    with pytest.raises(ValueError, match='no ViT found'):
        detect_vit_layout({'conv1.weight': torch.zeros(1)})
    assert not is_vit_checkpoint({'conv1.weight': torch.zeros(1)})


def test_cli_converts_a_vit(tmp_path, load_tool):
    tool = load_tool('model_converters/convert_checkpoint.py')
    src, dst = tmp_path / 'vit.pth.tar', tmp_path / 'vit.pth'
    torch.save(release('moco_v3_vit', timm_vit()), src)
    tool.main([str(src), str(dst)])
    out = torch.load(dst)
    assert out['meta']['layout'] == 'moco_v3_vit'
    assert out['meta']['arch']['embed_dims'] == WIDTH
    assert 'backbone.layers.1.ffn.layers.1.weight' in out['state_dict']
    with pytest.raises(SystemExit, match='--depth is for ResNets'):
        tool.main([str(src), str(tmp_path / 'x.pth'), '--depth', '50'])


def test_pretrained_check_hook_on_a_vit(tmp_path):
    """``PretrainedCheckHook`` passes a converted ViT, and for a release loaded
    as it is says to convert it (a prefix cannot map timm's names)."""
    from mmpretrain.registry import MODELS

    from coretune_mm.engine.hooks import PretrainedCheckHook
    checkpoint = release('moco_v3_vit', timm_vit())
    converted = convert_vit_checkpoint(checkpoint)
    vit = MODELS.build(converted.arch._replace(num_heads=4).backbone_cfg())
    vit.load_state_dict({
        k[len('backbone.'):]: v
        for k, v in converted.state_dict.items()
    })
    good, raw = str(tmp_path / 'converted.pth'), str(tmp_path / 'raw.pth')
    torch.save(dict(state_dict=converted.state_dict), good)
    torch.save(checkpoint, raw)
    hook = PretrainedCheckHook()
    assert hook.check(vit, good, 'backbone.') == 1.0
    with pytest.raises(RuntimeError, match='convert it first'):
        hook.check(vit, raw, 'module.base_encoder.')


def test_pretrained_check_hook_with_a_timm_named_backbone(tmp_path):
    """A backbone with timm's own names (e.g. MMPretrain's ``TIMMBackbone``)
    under a wrong prefix gets the prefix, not the advice to convert."""
    from coretune_mm.engine.hooks import PretrainedCheckHook
    backbone = torch.nn.Module()
    backbone.cls_token = torch.nn.Parameter(torch.randn(1, 1, 4))
    backbone.blocks = torch.nn.ModuleList([torch.nn.Module()])
    backbone.blocks[0].attn = torch.nn.Module()
    backbone.blocks[0].attn.qkv = torch.nn.Linear(4, 12)
    path = str(tmp_path / 'timm.pth')
    torch.save({
        f'model.{k}': v
        for k, v in backbone.state_dict().items()
    }, path)
    with pytest.raises(RuntimeError, match="prefix 'model.'") as err:
        PretrainedCheckHook().check(backbone, path, 'wrong.')
    assert 'convert' not in str(err.value)
