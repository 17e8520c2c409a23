import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import coretune_mm  # noqa: F401
from coretune_mm.core import focal_supcon_loss, hard_pair_mixup, to_soft_labels
from coretune_mm.models import CoreTuneClsHead

NUM_CLASSES, DIM = 5, 16


def build_head(**kwargs):
    cfg = dict(
        type='CoreTuneClsHead',
        num_classes=NUM_CLASSES,
        in_channels=DIM,
        projector=dict(out_channels=8))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def batch(num=12, soft=False):
    feats = torch.randn(num, DIM, requires_grad=True)
    labels = torch.arange(num) % NUM_CLASSES
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    if soft:
        for s, y in zip(samples, labels):
            score = torch.full((NUM_CLASSES, ), 0.1 / (NUM_CLASSES - 1))
            score[y] = 0.9
            s.set_gt_score(score)
    return feats, labels, samples


def test_loss_keys_and_gradients():
    head = build_head(cal_acc=True)
    feats, _, samples = batch()
    losses = head.loss((feats, ), samples)
    diagnostics = {
        'core_classes', 'core_lambda_hn', 'core_lambda_hp', 'core_positives',
        'core_focal_weight'
    }
    assert set(losses) == {'loss_cls', 'loss_contrast', 'accuracy_top-1'
                           } | diagnostics
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert not any(losses[k].requires_grad for k in diagnostics)
    # the accuracy of the originals, as the stock head computes it
    from mmpretrain.evaluation.metrics import Accuracy
    labels = torch.stack([s.gt_label for s in samples]).flatten()
    expected = Accuracy.calculate(head.fc(feats), labels, topk=(1, ))[0][0]
    assert losses['accuracy_top-1'].item() == pytest.approx(expected.item())
    (losses['loss_cls'] + losses['loss_contrast']).backward()
    assert (feats.grad.abs().sum(dim=1) > 0).all()
    assert all(p.grad is not None
               for p in head.core_tuning.projector.parameters())


def test_losses_equal_the_core_composition():
    # balanced batch: no prior correction needed to compare with the spec
    head = build_head(contrast_weight=0.3, prior_correction=False)
    feats, labels, samples = batch()
    state = head.core_tuning.get_stream_state()
    losses = head.loss((feats, ), samples)
    head.core_tuning.set_stream_state(state)
    shared, _ = head.core_tuning.generators(feats.device)
    targets = F.one_hot(labels, NUM_CLASSES).float()
    mixed, mixed_targets = hard_pair_mixup(feats, targets, generator=shared)
    assert mixed.size(0) == 3 * len(feats)
    log_prob = F.log_softmax(head.fc(mixed), dim=1)
    expected_cls = -(mixed_targets * log_prob).sum(dim=1).mean()
    expected_con = 0.3 * focal_supcon_loss(
        head.core_tuning.projector(mixed), mixed_targets)
    assert torch.allclose(losses['loss_cls'], expected_cls)
    assert torch.allclose(losses['loss_contrast'], expected_con)


def test_core_tuning_leaves_the_global_generator_alone():
    # CE and Core-tuning runs with one seed see the same data order/dropout
    head = build_head()
    feats, _, samples = batch()
    torch.manual_seed(3)
    head.loss((feats, ), samples)
    after = torch.rand(4)
    torch.manual_seed(3)
    assert torch.equal(torch.rand(4), after)


def _bias_gradient(head, feats, samples, prior):
    """Gradient of the head's losses on fc's bias at a classifier that predicts
    exactly ``prior`` (zero weights, bias = log prior)."""
    with torch.no_grad():
        head.fc.weight.zero_()
        head.fc.bias.copy_(prior.log())
    head.fc.bias.grad = None
    losses = head.loss((feats, ), samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    return head.fc.bias.grad


def test_prior_correction_keeps_an_imbalanced_prior():
    # 10:1 imbalance: other-class partners make the generated rows mostly
    # rare-class samples, which would pull the prior toward the rare class
    labels = torch.tensor([0] * 20 + [1] * 2)
    torch.manual_seed(0)
    feats = torch.randn(len(labels), DIM, requires_grad=True)
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    prior = torch.full((NUM_CLASSES, ), 1e-4)
    prior[:2] = torch.tensor([20., 2.]) / 22
    prior = prior / prior.sum()
    fixed = _bias_gradient(build_head(), feats, samples, prior)
    skewed = _bias_gradient(
        build_head(prior_correction=False), feats, samples, prior)
    assert skewed.abs().max() > 0.05  # the failure the correction removes
    assert fixed.abs().max() < 1e-3


def test_without_smooth_classifier_fc_sees_originals_only():
    head = build_head(smooth_classifier=False)
    feats, labels, samples = batch()
    losses = head.loss((feats, ), samples)
    assert torch.allclose(losses['loss_cls'],
                          F.cross_entropy(head.fc(feats), labels))


def test_without_contrast_loss_the_smooth_classifier_alone():
    head = build_head(contrast_loss=None, prior_correction=False)
    assert head.core_tuning.projector is None
    feats, labels, samples = batch()
    state = head.core_tuning.get_stream_state()
    losses = head.loss((feats, ), samples)
    assert losses['loss_contrast'].item() == 0
    head.core_tuning.set_stream_state(state)
    shared, _ = head.core_tuning.generators(feats.device)
    targets = F.one_hot(labels, NUM_CLASSES).float()
    mixed, mixed_targets = hard_pair_mixup(feats, targets, generator=shared)
    log_prob = F.log_softmax(head.fc(mixed), dim=1)
    expected = -(mixed_targets * log_prob).sum(dim=1).mean()
    assert torch.allclose(losses['loss_cls'], expected)


def test_feature_mixup_options_mix_random_pairs_unclipped():
    head = build_head(
        contrast_loss=None,
        prior_correction=False,
        mixup=dict(partner='random', hn_lambda_min=0.0, hard_positives=False))
    feats, labels, samples = batch(num=400)
    state = head.core_tuning.get_stream_state()
    losses = head.loss((feats, ), samples)
    head.core_tuning.set_stream_state(state)
    out = head.core_tuning(feats, F.one_hot(labels, NUM_CLASSES).float())
    assert out.samples.size(0) == 2 * len(feats)  # originals + mixed
    # unclipped Beta(1, 1) weights: mean 1/2, not the clipped 0.9
    assert abs(out.stats['lambda_hn'].item() - 0.5) < 0.05
    log_prob = F.log_softmax(head.fc(out.samples), dim=1)
    expected = -(out.targets * log_prob).sum(dim=1).mean()
    assert torch.allclose(losses['loss_cls'], expected)


def test_grad_ratio_matches_separate_backward_passes():
    head = build_head(contrast_weight=0.5, grad_ratio_interval=2)
    feats, _, samples = batch()
    state = head.core_tuning.get_stream_state()
    losses = head.loss((feats, ), samples)
    logged = losses['core_grad_ratio']
    assert not logged.requires_grad
    # the reference: each loss of the same step backpropagated alone
    norms = []
    for key in ('loss_contrast', 'loss_cls'):
        head.core_tuning.set_stream_state(state)
        x = feats.detach().clone().requires_grad_()
        head.loss((x, ), samples)[key].backward()
        norms.append(x.grad.norm())
    assert logged.item() == pytest.approx(
        (norms[0] / norms[1]).item(), rel=1e-5)
    # every grad_ratio_interval steps, only in training
    assert 'core_grad_ratio' not in head.loss((feats, ), samples)
    assert 'core_grad_ratio' in head.loss((feats, ), samples)
    with torch.no_grad():
        assert 'core_grad_ratio' not in head.loss((feats, ), samples)


def test_contrast_weight_zero_is_linear_cls_head():
    head = build_head(contrast_weight=0)
    assert head.core_tuning is None
    linear = MODELS.build(
        dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=DIM))
    linear.load_state_dict(head.state_dict())
    feats, _, samples = batch()
    assert set(head.loss((feats, ), samples)) == {'loss_cls'}
    assert torch.allclose(
        head.loss((feats, ), samples)['loss_cls'],
        linear.loss((feats, ), samples)['loss'])


def test_soft_targets_from_gt_score():
    head = build_head(smooth_classifier=False, contrast_weight=0)
    feats, labels, samples = batch(soft=True)
    scores = torch.stack([s.gt_score for s in samples])
    expected = -(scores * F.log_softmax(head.fc(feats), dim=1)).sum(1).mean()
    assert torch.allclose(head.loss((feats, ), samples)['loss_cls'], expected)
    assert torch.isfinite(build_head().loss((feats, ), samples)['loss_cls'])


def test_predict_equals_linear_cls_head():
    head = build_head()
    linear = MODELS.build(
        dict(type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=DIM))
    missing, unexpected = linear.load_state_dict(
        head.state_dict(), strict=False)
    assert not missing and all(
        k.startswith('core_tuning.') for k in unexpected)
    feats = torch.randn(4, DIM)
    for ours, theirs in zip(
            head.predict((feats, )), linear.predict((feats, ))):
        assert torch.equal(ours.pred_score, theirs.pred_score)
        assert torch.equal(ours.pred_label, theirs.pred_label)


@pytest.mark.parametrize('labels', [[0] * 6, [0, 1, 2, 3, 4, 0], [3]])
def test_degenerate_batches(labels):
    head = build_head()
    feats = torch.randn(len(labels), DIM, requires_grad=True)
    samples = [DataSample().set_gt_label(y) for y in labels]
    losses = head.loss((feats, ), samples)
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    assert torch.isfinite(feats.grad).all()
    if len(labels) == 1:  # nothing to pair: plain CE, a zero contrast
        assert losses['loss_contrast'].item() == 0
        expected = F.cross_entropy(head.fc(feats), torch.tensor(labels))
        assert losses['loss_cls'].item() == pytest.approx(expected.item())
    if len(set(labels)) == 1 < len(labels):  # every other one a positive
        assert losses['core_positives'].item() == 3 * len(labels) - 1


def test_bf16_autocast_close_to_float32():
    head = build_head()
    feats, _, samples = batch()
    state = head.core_tuning.get_stream_state()  # the same draws twice
    reference = head.loss((feats, ), samples)
    head.core_tuning.set_stream_state(state)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        low = head.loss((feats, ), samples)
    assert low['loss_contrast'].dtype == torch.float32
    for key in reference:
        assert torch.isfinite(low[key])
        assert low[key].item() == pytest.approx(
            reference[key].item(), rel=5e-2)


@pytest.mark.parametrize(
    'kwargs, name',
    [
        (dict(contrast_weight=-1), 'contrast_weight'),
        (dict(mixup=dict(alpha=0)), 'alpha'),
        (dict(mixup=dict(beta=1)), 'mixup'),
        (dict(mixup=dict(partner='hardest')), 'partner'),
        (dict(contrast_loss=dict(type='FocalSupConLoss', temperature=0)),
         'temperature'),
        (dict(contrast_loss=dict(type='FocalSupConLoss', temperature='0.07')),
         'FocalSupConLoss: temperature must be a finite number'),
        (dict(contrast_loss=dict(type='FocalSupConLoss', gamma=float('nan'))),
         'FocalSupConLoss: gamma'),
        (dict(contrast_loss=dict(type='FocalSupConLoss', loss_weight=2)),
         "contrast_loss: no loss_weight; the head's contrast_weight"),
        (dict(projector=dict(out_channels=0)), 'out_channels'),
        (dict(smooth_classifier='no'), 'smooth_classifier'),
        (dict(prior_correction=None), 'prior_correction'),
        (dict(grad_ratio_interval=-1), 'grad_ratio_interval'),
        (dict(grad_ratio_interval=1.5), 'grad_ratio_interval'),
        # checked also when Core-tuning is off
        (dict(contrast_weight=0,
              gather_across_ranks='no'), 'gather_across_ranks'),
        (dict(contrast_weight='0.1'), 'contrast_weight'),
    ])
def test_bad_config_fails_at_build(kwargs, name):
    with pytest.raises(ValueError, match=name):
        build_head(**kwargs)


def test_label_out_of_range():
    head = build_head()
    feats = torch.randn(2, DIM)
    samples = [DataSample().set_gt_label(y) for y in (0, NUM_CLASSES)]
    with pytest.raises(ValueError, match='labels'):
        head.loss((feats, ), samples)


def test_registered_in_both_hosts():
    from mmseg.registry import MODELS as SEG_MODELS
    assert SEG_MODELS.get('FocalSupConLoss') is MODELS.get('FocalSupConLoss')
    assert MODELS.get('CoreTuneClsHead') is CoreTuneClsHead
    loss = SEG_MODELS.build(dict(type='FocalSupConLoss', gamma=2.0))
    z = F.normalize(torch.randn(6, 4), dim=1)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    assert torch.allclose(loss(z, y), focal_supcon_loss(z, y, gamma=2.0))
    assert torch.allclose(
        loss(z, to_soft_labels(y, 3)), focal_supcon_loss(z, y, gamma=2.0))


def test_build_and_init_draw_like_linear_cls_head():
    # CE and Core-tuning runs with one seed: same fc init, same RNG after
    def build_and_draw(head_type):
        torch.manual_seed(4)
        head = MODELS.build(
            dict(type=head_type, num_classes=NUM_CLASSES, in_channels=DIM))
        head.init_weights()
        return head, torch.rand(5)

    core, after_core = build_and_draw('CoreTuneClsHead')
    linear, after_linear = build_and_draw('LinearClsHead')
    assert torch.equal(after_core, after_linear)
    assert torch.equal(core.fc.weight, linear.fc.weight)
    # the projector keeps PyTorch's default (not N(0, 0.01)) initialisation
    first = core.core_tuning.projector.layers[0].weight
    assert first.std() > 0.05
