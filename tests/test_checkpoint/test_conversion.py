import os.path as osp

import pytest
import torch
from torchvision.models import resnet50

from coretune_mm.checkpoint import convert_csl_checkpoint, detect_layout

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def backbone():
    state = resnet50(weights=None).state_dict()
    return {k: v for k, v in state.items() if not k.startswith('fc.')}


def fake(layout, backbone):
    extra_fc = {'fc.0.weight': torch.zeros(2048, 2048)}
    if layout == 'moco_v1_v2':
        state = {f'module.encoder_q.{k}': v for k, v in backbone.items()}
        state.update({f'module.encoder_k.{k}': v for k, v in backbone.items()})
        state['module.encoder_q.fc.0.weight'] = extra_fc['fc.0.weight']
        state['module.queue'] = torch.zeros(128, 16)
        return dict(state_dict=state, epoch=200, arch='resnet50')
    if layout == 'moco_v3':
        state = {f'module.base_encoder.{k}': v for k, v in backbone.items()}
        state.update({
            f'module.momentum_encoder.{k}': v
            for k, v in backbone.items()
        })
        state['module.predictor.0.weight'] = torch.zeros(4, 4)
        return dict(state_dict=state)
    if layout == 'infomin_pycontrast':
        state = {f'module.encoder.{k}': v for k, v in backbone.items()}
        state['module.head.fc.weight'] = torch.zeros(128, 2048)
        return dict(model=state, opt=None)
    if layout == 'swav_deepcluster':
        state = {f'module.{k}': v for k, v in backbone.items()}
        state['module.projection_head.0.weight'] = torch.zeros(2048, 2048)
        state['module.prototypes.weight'] = torch.zeros(3000, 128)
        return state
    if layout == 'torchvision':
        state = dict(backbone)
        state['fc.weight'] = torch.zeros(1000, 2048)
        return state
    if layout == 'mmpretrain_selfsup':
        state = {f'backbone.{k}': v for k, v in backbone.items()}
        state['neck.mlp.0.weight'] = torch.zeros(2, 2)
        return dict(state_dict=state, meta={})
    raise KeyError(layout)


LAYOUT_NAMES = [
    'moco_v1_v2', 'moco_v3', 'infomin_pycontrast', 'swav_deepcluster',
    'torchvision', 'mmpretrain_selfsup'
]


@pytest.mark.parametrize('layout', LAYOUT_NAMES)
def test_round_trip(layout, backbone):
    checkpoint = fake(layout, backbone)
    assert detect_layout(checkpoint) == layout
    state, detected, depth, dropped = convert_csl_checkpoint(checkpoint)
    assert detected == layout and depth == 50
    assert set(state) == {f'module.encoder_q.{k}' for k in backbone}
    for k, v in backbone.items():
        assert state[f'module.encoder_q.{k}'] is v
    assert dropped  # heads, queues or momentum encoders
    # and the output is itself a MoCo-layout file
    assert detect_layout(dict(state_dict=state)) == 'moco_v1_v2'


def test_errors(backbone):
    with pytest.raises(ValueError, match='unknown layout'):
        detect_layout({'encoder.weight': torch.zeros(1)})
    truncated = fake('moco_v1_v2', backbone)
    del truncated['state_dict']['module.encoder_q.layer4.2.conv3.weight']
    with pytest.raises(ValueError, match='missing'):
        convert_csl_checkpoint(truncated)
    wrong = fake('torchvision', backbone)
    wrong['layer1.0.conv1.weight'] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match='shape'):
        convert_csl_checkpoint(wrong)


@pytest.mark.parametrize('depth', [18, 34, 101])
def test_other_depths_are_detected_not_cut_down(depth):
    import torchvision.models as tvm
    state = getattr(tvm, f'resnet{depth}')(weights=None).state_dict()
    moco = dict(state_dict={
        f'module.encoder_q.{k}': v
        for k, v in state.items()
    })
    out, layout, found, dropped = convert_csl_checkpoint(moco)
    assert (layout, found) == ('moco_v1_v2', depth)
    assert set(out) == {
        f'module.encoder_q.{k}'
        for k in state if not k.startswith('fc.')
    }
    assert dropped == [
        'module.encoder_q.fc.weight', 'module.encoder_q.fc.bias'
    ]
    with pytest.raises(
            ValueError,
            match=f'expected a ResNet-50, its blocks '
            f'are those of a ResNet-{depth}'):
        convert_csl_checkpoint(moco, depth=50)


def test_backbone_tensors_outside_the_depth_are_errors(backbone):
    extra_block = fake('torchvision', backbone)
    extra_block['layer4.3.conv1.weight'] = torch.zeros(512, 2048, 1, 1)
    with pytest.raises(ValueError, match=r'\(3, 4, 6, 4\) match no ResNet'):
        convert_csl_checkpoint(extra_block)
    extra_layer = fake('torchvision', backbone)
    extra_layer['layer1.0.conv4.weight'] = torch.zeros(1)
    with pytest.raises(
            ValueError,
            match='layer1.0.conv4.weight is not part '
            'of a ResNet-50'):
        convert_csl_checkpoint(extra_layer)


def test_cli_writes_the_depth(tmp_path, load_tool, capsys):
    import torchvision.models as tvm
    state = tvm.resnet101(weights=None).state_dict()
    src = tmp_path / 'moco101.pth'
    torch.save(
        dict(state_dict={
            f'module.encoder_q.{k}': v
            for k, v in state.items()
        }), src)
    tool = load_tool('model_converters/convert_checkpoint.py')
    tool.main([str(src), str(tmp_path / 'out.pth')])
    printed = capsys.readouterr().out
    assert 'ResNet-101' in printed
    assert 'model.backbone.depth=101' in printed
    out = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert out['meta'] == dict(layout='moco_v1_v2', depth=101)
    with pytest.raises(SystemExit, match='expected a ResNet-50'):
        tool.main([str(src), str(tmp_path / 'out50.pth'), '--depth', '50'])
    assert not (tmp_path / 'out50.pth').exists()
    with pytest.raises(SystemExit, match='dst:'):
        tool.main([str(src), str(src)])
    assert torch.load(src, weights_only=True)['state_dict']


def test_cli_refuses_a_truncated_file(tmp_path, backbone, load_tool, capsys):
    src = tmp_path / 'moco.pth'
    torch.save(fake('moco_v1_v2', backbone), src)
    data = src.read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    tool = load_tool('model_converters/convert_checkpoint.py')
    tool.main([str(src), str(tmp_path / 'out.pth')])
    assert 'moco_v1_v2' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='cannot read'):
        tool.main([str(tmp_path / 'cut.pth'), str(tmp_path / 'out2.pth')])
