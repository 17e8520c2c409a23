import copy

import pytest
import torch
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

import coretune_mm  # noqa: F401

DEFAULT_SCOPE = 'mmseg'
from coretune_mm.core import hard_pair_mixup, sample_pixels, shared_generator
from coretune_mm.models import CoreTuneASPPHead

NUM_CLASSES = 4
HEAD = dict(
    in_channels=8,
    channels=16,
    num_classes=NUM_CLASSES,
    dilations=(1, 2),
    dropout_ratio=0.1,
    norm_cfg=dict(type='BN'))
CORE = dict(
    contrast_weight=0.1,
    mix_weight=1.0,
    projector=dict(out_channels=8),
    pixel_sampler=dict(max_samples=64))


def build(head_type='CoreTuneASPPHead', **kwargs):
    cfg = dict(type=head_type, **HEAD)
    if head_type.startswith('CoreTune'):
        cfg.update(CORE)
    if 'Separable' in head_type:
        cfg.update(c1_in_channels=8, c1_channels=4)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def samples_from(labels):
    return [
        SegDataSample(gt_sem_seg=PixelData(data=label[None]))
        for label in labels
    ]


def random_labels(n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(NUM_CLASSES, (n, size, size), generator=g)
    labels[:, :2] = 255
    return labels


def inputs(n=2, size=8, requires_grad=False):
    x = torch.randn(n, 8, size, size, requires_grad=requires_grad)
    return [x, x]  # in_index=-1: the last one is used


def test_loss_keys_and_gradients_reach_everything():
    head = build()
    feats = inputs(requires_grad=True)
    losses = head.loss(feats, samples_from(random_labels()), None)
    assert {'loss_ce', 'acc_seg', 'loss_contrast', 'loss_mix'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert feats[-1].grad.abs().sum() > 0
    for name in ('aspp_modules', 'bottleneck', 'projector', 'conv_seg'):
        grads = [
            p.grad for p in getattr(head, name).parameters()
            if p.requires_grad
        ]
        assert grads and all(g is not None and g.abs().sum() > 0
                             for g in grads), name


def test_losses_equal_the_core_composition():
    head = build()
    head.eval()  # no dropout, frozen BN: the same features twice
    feats = inputs()
    labels = random_labels()
    torch.manual_seed(5)
    losses = head.loss(feats, samples_from(labels), None)
    torch.manual_seed(5)
    features = head._forward_feature(feats)
    logits = head.cls_seg(features)
    small = labels[:, ::2, ::2]  # nearest resize 16 -> 8
    index = sample_pixels(small, logits.argmax(1), max_samples=64)
    pixels = features.permute(0, 2, 3, 1).reshape(-1, 16)[index]
    targets = torch.nn.functional.one_hot(small.flatten()[index],
                                          NUM_CLASSES).float()
    mixed, mixed_targets = hard_pair_mixup(
        pixels, targets, generator=shared_generator(pixels.device))
    from coretune_mm.core import focal_supcon_loss
    expected_con = 0.1 * focal_supcon_loss(head.projector(mixed),
                                           mixed_targets)
    generated = mixed[len(index):]
    mix_logits = generated @ head.conv_seg.weight.flatten(1).t() + \
        head.conv_seg.bias
    expected_mix = -(mixed_targets[len(index):] *
                     mix_logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(losses['loss_contrast'], expected_con, atol=1e-6)
    assert torch.allclose(losses['loss_mix'], expected_mix, atol=1e-6)


@pytest.mark.parametrize('case', ['all_ignored', 'single_class', 'one_pixel'])
def test_degenerate_batches(case):
    head = build()
    labels = torch.full((2, 16, 16), 255)
    if case == 'single_class':
        labels[:] = 2
    elif case == 'one_pixel':
        labels[:] = 0
        labels[0, 4, 4] = 3
    feats = inputs(requires_grad=True)
    losses = head.loss(feats, samples_from(labels), None)
    assert all(torch.isfinite(v).all() for v in losses.values())
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # zeros still reach every added parameter (no unused parameters in DDP)
    assert all(p.grad is not None for p in head.projector.parameters())
    assert torch.isfinite(feats[-1].grad).all()


@pytest.mark.parametrize('head_type', [
    ('CoreTuneASPPHead', 'ASPPHead'),
    ('CoreTuneDepthwiseSeparableASPPHead', 'DepthwiseSeparableASPPHead'),
])
def test_predict_equals_the_stock_head(head_type):
    ours, stock = build(head_type[0]), build(head_type[1])
    missing, unexpected = stock.load_state_dict(
        ours.state_dict(), strict=False)
    assert not missing and all(k.startswith('projector.') for k in unexpected)
    ours.eval()
    stock.eval()
    feats = inputs()
    metas = [dict(img_shape=(16, 16))] * 2
    assert torch.equal(
        ours.predict(feats, metas, dict()), stock.predict(feats, metas, dict()))


def test_deeplabv3plus_variant_trains():
    head = build('CoreTuneDepthwiseSeparableASPPHead')
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 8, 8, 8)]
    head.in_index = -1
    losses = head.loss(feats, samples_from(random_labels()), None)
    assert torch.isfinite(losses['loss_contrast'])


def test_bf16_autocast_is_finite_and_close():
    head = build()
    head.eval()
    feats = inputs()
    labels = samples_from(random_labels())
    torch.manual_seed(1)
    reference = head.loss(feats, copy.deepcopy(labels), None)
    torch.manual_seed(1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = head.loss(feats, labels, None)
    for key in ('loss_contrast', 'loss_mix'):
        assert low[key].dtype == torch.float32
        assert low[key].item() == pytest.approx(
            reference[key].item(), rel=0.1)


@pytest.mark.parametrize('kwargs, name', [
    (dict(mix_weight=-1.0), 'mix_weight'),
    (dict(pixel_sampler=dict(max_samples=0)), 'max_samples'),
    (dict(pixel_sampler=dict(budget=5)), 'pixel_sampler'),
    (dict(mixup=dict(hn_lambda_min=2.0)), 'hn_lambda_min'),
])
def test_bad_config_fails_at_build(kwargs, name):
    with pytest.raises(ValueError, match=name):
        build(**kwargs)


def test_contrast_weight_zero_is_the_stock_head():
    head = build(contrast_weight=0)
    assert not hasattr(head, 'projector')
    losses = head.loss(inputs(), samples_from(random_labels()), None)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert isinstance(head, CoreTuneASPPHead)
