import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import coretune_mm  # noqa: F401
from coretune_mm.core import hard_pair_mixup, sample_pixels
from coretune_mm.models import CoreTuneASPPHead
from coretune_mm.models.decode_heads.pixel_core_tuning import label_boundaries

DEFAULT_SCOPE = 'mmseg'

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
    mix_loss=True,
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
    assert {
        'loss_ce', 'acc_seg', 'loss_contrast', 'loss_mix', 'core_pixels',
        'core_boundary'
    } <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert feats[-1].grad.abs().sum() > 0
    for name in ('aspp_modules', 'bottleneck', 'core_tuning', 'conv_seg'):
        grads = [
            p.grad for p in getattr(head, name).parameters() if p.requires_grad
        ]
        assert grads and all(g is not None and g.abs().sum() > 0
                             for g in grads), name


def core_composition(head, feats, labels):
    """The head's Core-tuning losses written out from the core functions, with
    the generators the head drew (its stream restored)."""
    from coretune_mm.core import focal_supcon_loss
    features = head._forward_feature(feats)
    logits = head.cls_seg(features)
    shared, local = head.core_tuning.generators(features.device)
    small = labels[:, ::2, ::2]  # nearest resize 16 -> 8
    index = sample_pixels(
        small, logits.argmax(1), max_samples=64, generator=local)
    pixels = features.permute(0, 2, 3, 1).reshape(-1, 16)[index]
    targets = torch.nn.functional.one_hot(small.flatten()[index],
                                          NUM_CLASSES).float()
    mixed, mixed_targets = hard_pair_mixup(pixels, targets, generator=shared)
    con = 0.1 * focal_supcon_loss(
        head.core_tuning.projector(mixed), mixed_targets)
    generated, gen_targets = mixed[len(index):], mixed_targets[len(index):]
    mix_logits = generated @ head.conv_seg.weight.flatten(1).t() + \
        head.conv_seg.bias
    return con, mix_logits, gen_targets


def soft_ce(logits, targets):
    return -(targets * logits.log_softmax(1)).sum(1).mean()


@pytest.mark.parametrize('prior_correction', [False, True])
def test_losses_equal_the_core_composition(prior_correction):
    head = build(prior_correction=prior_correction)
    head.eval()  # no dropout, frozen BN: the same features twice
    feats = inputs()
    labels = random_labels()
    state = head.core_tuning.get_stream_state()
    losses = head.loss(feats, samples_from(labels), None)
    head.core_tuning.set_stream_state(state)
    con, mix_logits, gen_targets = core_composition(head, feats, labels)
    if prior_correction:
        valid = labels[labels != 255]
        prior = torch.stack([(valid == c).float().mean()
                             for c in range(NUM_CLASSES)])
        mix_logits = mix_logits + gen_targets.mean(0).log() - prior.log()
    assert torch.allclose(losses['loss_contrast'], con, atol=1e-6)
    assert torch.allclose(
        losses['loss_mix'], soft_ce(mix_logits, gen_targets), atol=1e-5)


def _background_bias_gradient(**kwargs):
    """The set-up of the prior check: conv_seg predicts exactly the batch's
    class prior (zero weights, bias = log prior) on 85 % background maps;
    returns the Core-tuning terms' gradient on the background bias."""
    torch.manual_seed(0)
    head = build(pixel_sampler=dict(max_samples=256), **kwargs)
    labels = torch.zeros(2, 16, 16, dtype=torch.long)
    labels[:, 4:10, 4:10] = torch.tensor([1, 2])[:, None, None]
    labels[0, 10:12, 4:8] = 3  # 36 + 8 of 256 pixels: ~85 % background
    labels[:, 0] = 255
    valid = labels[labels != 255]
    prior = torch.stack([(valid == c).float().mean()
                         for c in range(NUM_CLASSES)])
    with torch.no_grad():
        head.conv_seg.weight.zero_()
        head.conv_seg.bias.copy_(prior.log())
    losses = head.loss(inputs(), samples_from(labels), None)
    extra = sum(v for k, v in losses.items()
                if k.startswith('loss') and k != 'loss_ce')
    bias_grad, = torch.autograd.grad(
        extra, head.conv_seg.bias, allow_unused=True)
    dense_grad, = torch.autograd.grad(losses['loss_ce'], head.conv_seg.bias)
    assert dense_grad.abs().max() < 1e-5  # the dense CE is at its optimum
    return 0.0 if bias_grad is None else float(bias_grad[0])


def test_smooth_classifier_does_not_push_the_prior():
    assert abs(_background_bias_gradient()) < 0.02
    # the first design pushed the background bias down; the check can fail
    assert _background_bias_gradient(prior_correction=False) > 0.1
    assert _background_bias_gradient(mix_loss=False) == 0.0


def test_mix_detach_trains_conv_seg_only():
    head = build(mix_detach=True)
    feats = inputs(requires_grad=True)
    losses = head.loss(feats, samples_from(random_labels()), None)
    grad, = torch.autograd.grad(
        losses['loss_mix'], feats[-1], allow_unused=True)
    assert grad is None or grad.abs().max() == 0
    grad_w, = torch.autograd.grad(losses['loss_mix'], head.conv_seg.weight)
    assert grad_w.abs().sum() > 0


def test_label_boundaries_against_a_loop():
    labels = random_labels(n=2, size=6, seed=3)
    got = label_boundaries(labels)
    n, h, w = labels.shape
    for b in range(n):
        for y in range(h):
            for x in range(w):
                window = labels[b, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
                assert bool(got[b, y, x]) == bool(
                    (window != labels[b, y, x]).any()), (b, y, x)


def test_logged_pixel_statistics():
    head = build()
    labels = torch.zeros(2, 16, 16, dtype=torch.long)
    labels[:, :, 8:] = 1
    losses = head.loss(inputs(), samples_from(labels), None)
    assert losses['core_pixels'] == 64
    # at 8x8, columns 3 and 4 of 8 touch the other class
    assert 0 <= losses['core_boundary'] <= 1


def test_binary_sigmoid_head_is_rejected_at_build():
    with pytest.raises(ValueError, match='out_channels=1'):
        build(num_classes=2, out_channels=1)
    build(num_classes=2, out_channels=1, contrast_weight=0)


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
    if case == 'all_ignored':  # nothing to sample: zeros
        for key in ('loss_contrast', 'loss_mix', 'core_pixels'):
            assert losses[key].item() == 0, key
    if case == 'single_class':  # every other sample is a positive
        assert losses['core_classes'].item() == 1
        assert losses['core_positives'].item() == \
            3 * losses['core_pixels'].item() - 1
        assert losses['loss_contrast'].item() > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # zeros still reach every added parameter (no unused parameters in DDP)
    assert all(p.grad is not None
               for p in head.core_tuning.projector.parameters())
    assert torch.isfinite(feats[-1].grad).all()


@pytest.mark.parametrize('head_type', [
    ('CoreTuneASPPHead', 'ASPPHead'),
    ('CoreTuneDepthwiseSeparableASPPHead', 'DepthwiseSeparableASPPHead'),
])
def test_predict_equals_the_stock_head(head_type):
    ours, stock = build(head_type[0]), build(head_type[1])
    missing, unexpected = stock.load_state_dict(
        ours.state_dict(), strict=False)
    assert not missing and all(
        k.startswith('core_tuning.') for k in unexpected)
    ours.eval()
    stock.eval()
    feats = inputs()
    metas = [dict(img_shape=(16, 16))] * 2
    assert torch.equal(
        ours.predict(feats, metas, dict()),
        stock.predict(feats, metas, dict()))


def test_deeplabv3plus_variant_trains():
    """The same losses as the ASPP head, and their gradients reach the low-
    level branch and the projector."""
    head = build('CoreTuneDepthwiseSeparableASPPHead')
    feats = [
        torch.randn(2, 8, 16, 16, requires_grad=True),
        torch.randn(2, 8, 8, 8)
    ]
    head.in_index = -1
    labels = samples_from(random_labels())
    losses = head.loss(feats, labels, None)
    assert set(losses) == set(build().loss(inputs(), labels, None))
    assert losses['loss_contrast'].item() > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert feats[0].grad.abs().sum() > 0  # c1_bottleneck's input
    assert all(p.grad.abs().sum() > 0
               for p in head.core_tuning.projector.parameters())


def test_bf16_autocast_is_finite_and_close():
    head = build()
    head.eval()
    feats = inputs()
    labels = samples_from(random_labels())
    state = head.core_tuning.get_stream_state()  # the same draws twice
    reference = head.loss(feats, copy.deepcopy(labels), None)
    head.core_tuning.set_stream_state(state)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = head.loss(feats, labels, None)
    for key in ('loss_contrast', 'loss_mix'):
        assert low[key].dtype == torch.float32
        assert low[key].item() == pytest.approx(reference[key].item(), rel=0.1)
    # diagnostics stay exact: a count of 1023 in bf16 would read 1024
    assert low['core_pixels'].dtype == torch.float32
    assert low['core_pixels'] == reference['core_pixels']


@pytest.mark.parametrize(
    'kwargs, name',
    [
        (dict(mix_weight=-1.0), 'mix_weight'),
        (dict(pixel_sampler=dict(max_samples=0)), 'max_samples'),
        (dict(pixel_sampler=dict(budget=5)), 'pixel_sampler'),
        (dict(pixel_budget='per_gpu'), 'pixel_budget'),
        (dict(projector=dict(width=3)), 'projector'),
        (dict(projector=dict(hidden_channels=0)), 'hidden_channels'),
        (dict(pixel_sampler=dict(max_samples=True)), 'max_samples'),
        (dict(mix_loss='no'), 'mix_loss'),
        (dict(smooth_classifier=True), 'is called mix_loss'),
        (dict(mix_detach=1), 'mix_detach'),
        (dict(mixup=dict(hn_lambda_min=2.0)), 'hn_lambda_min'),
        (dict(contrast_weight=-0.1), 'contrast_weight'),
        # checked also when Core-tuning is off
        (dict(contrast_weight=0, mix_weight=-1.0), 'mix_weight'),
        (dict(contrast_weight=0,
              gather_across_ranks=1), 'gather_across_ranks'),
    ])
def test_bad_config_fails_at_build(kwargs, name):
    with pytest.raises(ValueError, match=name):
        build(**kwargs)


def test_contrast_weight_zero_is_the_stock_head():
    head = build(contrast_weight=0)
    assert head.core_tuning is None
    losses = head.loss(inputs(), samples_from(random_labels()), None)
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert isinstance(head, CoreTuneASPPHead)


def test_build_and_init_draw_like_the_stock_head():

    def build_and_draw(head_type):
        torch.manual_seed(4)
        head = build(head_type)
        return head, torch.rand(5)

    core, after_core = build_and_draw('CoreTuneASPPHead')
    stock, after_stock = build_and_draw('ASPPHead')
    assert torch.equal(after_core, after_stock)
    for (name, p), q in zip(stock.named_parameters(), core.parameters()):
        assert torch.equal(p, q), name
