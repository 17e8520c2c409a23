"""Core-tuning on MMPretrain's VisionTransformerClsHead (ViTs from MoCo v3,
DINO): the same mechanism as the linear head, h = the class token."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import coretune_mm  # noqa: F401
from coretune_mm.checkpoint import plain_config
from coretune_mm.core import focal_supcon_loss, hard_pair_mixup

NUM_CLASSES, DIM = 5, 16


def build(head_type='CoreTuneVisionTransformerClsHead', **kwargs):
    cfg = dict(type=head_type, num_classes=NUM_CLASSES, in_channels=DIM)
    if head_type.startswith('CoreTune'):
        cfg['projector'] = dict(out_channels=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def batch(num=12):
    cls_token = torch.randn(num, DIM, requires_grad=True)
    labels = torch.arange(num) % NUM_CLASSES
    samples = [DataSample().set_gt_label(int(y)) for y in labels]
    return cls_token, labels, samples


@pytest.mark.parametrize('hidden_dim', [None, 24])
def test_losses_equal_the_core_composition(hidden_dim):
    head = build(
        hidden_dim=hidden_dim, contrast_weight=0.3, prior_correction=False)
    with torch.no_grad():  # the stock init zeroes the classifier
        head.layers.head.weight.normal_()
    token, labels, samples = batch()
    state = head.core_tuning.get_stream_state()
    losses = head.loss(([token], ), samples)
    head.core_tuning.set_stream_state(state)
    shared, _ = head.core_tuning.generators(token.device)
    h = head.pre_logits(([token], ))
    assert h.shape[1] == (hidden_dim or DIM)
    mixed, targets = hard_pair_mixup(
        h, F.one_hot(labels, NUM_CLASSES).float(), generator=shared)
    log_prob = F.log_softmax(head.layers.head(mixed), dim=1)
    assert torch.allclose(losses['loss_cls'],
                          -(targets * log_prob).sum(1).mean())
    assert torch.allclose(
        losses['loss_contrast'],
        0.3 * focal_supcon_loss(head.core_tuning.projector(mixed), targets))
    (losses['loss_cls'] + losses['loss_contrast']).backward()
    assert token.grad.abs().sum() > 0
    if hidden_dim:
        assert head.layers.pre_logits.weight.grad.abs().sum() > 0


def test_initialised_and_predicting_like_the_stock_head():
    """The stock init (Linear weights to 0) reaches the classifier, not the
    projector; the global generator sees the stock head's draws; inference is
    the stock head's."""
    torch.manual_seed(4)
    core = build(hidden_dim=24)
    after_core = torch.rand(3)
    torch.manual_seed(4)
    stock = build('VisionTransformerClsHead', hidden_dim=24)
    after_stock = torch.rand(3)
    assert torch.equal(after_core, after_stock)
    assert core.layers.head.weight.abs().sum() == 0
    assert core.core_tuning.projector.layers[0].weight.std() > 0.05
    torch.testing.assert_close(core.layers.pre_logits.weight,
                               stock.layers.pre_logits.weight)
    missing, unexpected = stock.load_state_dict(
        core.state_dict(), strict=False)
    assert not missing and all(
        k.startswith('core_tuning.') for k in unexpected)
    token = torch.randn(4, DIM)
    for ours, theirs in zip(
            core.predict(([token], )), stock.predict(([token], ))):
        assert torch.equal(ours.pred_score, theirs.pred_score)


def test_tiny_vit_classifier_trains_a_step():
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='VisionTransformer',
                arch=dict(
                    embed_dims=DIM,
                    num_layers=2,
                    num_heads=2,
                    feedforward_channels=32),
                img_size=32,
                patch_size=8,
                out_type='cls_token'),
            head=dict(
                type='CoreTuneVisionTransformerClsHead',
                num_classes=NUM_CLASSES,
                in_channels=DIM,
                projector=dict(out_channels=8),
                grad_ratio_interval=1)))
    model.init_weights()
    images = torch.randn(8, 3, 32, 32)
    samples = [DataSample().set_gt_label(i % NUM_CLASSES) for i in range(8)]
    losses = model.loss(images, samples)
    assert {'loss_cls', 'loss_contrast', 'core_grad_ratio'} <= set(losses)
    total = losses['loss_cls'] + losses['loss_contrast']
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.cls_token.grad.abs().sum() > 0


def test_plain_config_is_the_stock_head():
    cfg = Config(
        dict(
            model=dict(
                head=dict(
                    type='CoreTuneVisionTransformerClsHead',
                    num_classes=NUM_CLASSES,
                    in_channels=DIM,
                    hidden_dim=24,
                    contrast_weight=0.1,
                    grad_ratio_interval=10))))
    head = plain_config(cfg).model.head
    assert head.type == 'VisionTransformerClsHead'
    assert head.hidden_dim == 24
    assert 'contrast_weight' not in head and 'grad_ratio_interval' not in head
    MODELS.build(head)
