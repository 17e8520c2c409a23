"""Core-tuning variants of MMSegmentation's FCN, PSP, UPerNet and SegFormer
heads, and of a head of one's own, from one mechanism."""
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import coretune_mm  # noqa: F401
from coretune_mm.checkpoint import plain_config
from coretune_mm.checkpoint.stripping import stock_type
from coretune_mm.models.decode_heads import core_tuning_head

DEFAULT_SCOPE = 'mmseg'
HEADS = {
    'FCNHead':
    dict(in_channels=8, channels=8, num_convs=1),
    'PSPHead':
    dict(in_channels=8, channels=8, pool_scales=(1, 2)),
    'UPerHead':
    dict(in_channels=[4, 8], in_index=[0, 1], channels=8, pool_scales=(1, 2)),
    'SegformerHead':
    dict(in_channels=[4, 8], in_index=[0, 1], channels=8),
}
CORE = dict(projector=dict(out_channels=4), mix_loss=True)


def build(head_type, **kwargs):
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type=head_type,
            num_classes=3,
            norm_cfg=dict(type='BN'),
            **HEADS[head_type.replace('CoreTune', '')],
            **kwargs))
    head.init_weights()
    return head


def inputs():
    g = torch.Generator().manual_seed(1)
    return [
        torch.randn(2, 4, 16, 16, generator=g),
        torch.randn(2, 8, 8, 8, generator=g)
    ]


def samples():
    label = torch.randint(
        3, (2, 1, 32, 32), generator=torch.Generator().manual_seed(2))
    label[:, :, :2] = 255
    return [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in label]


@pytest.mark.parametrize('stock', list(HEADS))
def test_trains_with_core_tuning_and_predicts_like_the_stock_head(stock):
    head = build(f'CoreTune{stock}', **CORE)
    losses = head.loss(inputs(), samples(), None)
    assert {'loss_ce', 'loss_contrast', 'loss_mix',
            'core_pixels'} <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None
               for p in head.core_tuning.projector.parameters())
    assert head.conv_seg.weight.grad is not None
    assert losses['core_pixels'] > 0
    # inference: the stock head with the same weights
    plain = build(stock)
    missing, unexpected = plain.load_state_dict(
        head.state_dict(), strict=False)
    assert not missing and unexpected and all(
        k.startswith('core_tuning.') for k in unexpected)
    head.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(head(inputs()), plain(inputs()))
    assert stock_type(f'CoreTune{stock}') == stock


@pytest.mark.parametrize('stock', list(HEADS))
def test_plain_config_is_the_stock_head(stock):
    cfg = Config(
        dict(
            model=dict(
                decode_head=dict(
                    type=f'CoreTune{stock}',
                    num_classes=3,
                    contrast_weight=0.1,
                    pixel_sampler=dict(max_samples=64),
                    **HEADS[stock]))))
    head = plain_config(cfg).model.decode_head
    assert head.type == stock
    assert 'contrast_weight' not in head and 'pixel_sampler' not in head
    MODELS.build(dict(head, norm_cfg=dict(type='BN')))


class _TinyHead(BaseDecodeHead):
    """A head of one's own: one 3x3 conv, then cls_seg."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = torch.nn.Conv2d(
            self.in_channels, self.channels, 3, padding=1)

    def _forward_feature(self, inputs):
        return self.conv(self._transform_inputs(inputs))

    def forward(self, inputs):
        return self.cls_seg(self._forward_feature(inputs))


def test_a_head_of_ones_own():
    cls = core_tuning_head(_TinyHead, name='CoreTuneTinyTestHead')
    assert MODELS.get('CoreTuneTinyTestHead') is cls
    head = MODELS.build(
        dict(
            type='CoreTuneTinyTestHead',
            in_channels=8,
            channels=8,
            num_classes=3,
            projector=dict(out_channels=4)))
    losses = head.loss(inputs(), samples(), None)
    assert torch.isfinite(losses['loss_contrast'])
    assert stock_type(cls) == '_TinyHead'


def test_a_head_without_forward_feature_is_refused():

    class Whole(BaseDecodeHead):

        def forward(self, inputs):
            return self.cls_seg(inputs[-1])

    with pytest.raises(TypeError, match='Whole has no _forward_feature'):
        core_tuning_head(Whole, register=False)
    with pytest.raises(TypeError, match='BaseDecodeHead subclass'):
        core_tuning_head(torch.nn.Conv2d, register=False)
