"""ContrastWarmupHook: the contrastive (and mixed-sample) weight ramps up
linearly over the first iterations."""
import pytest
import torch.nn as nn
from mmengine.runner import Runner


def test_contrast_warmup(tiny_cfg, tmp_path):
    cfg = tiny_cfg(tmp_path / 'warm')
    cfg.custom_hooks.append(dict(type='ContrastWarmupHook', warmup_iters=4))
    runner = Runner.from_cfg(cfg)
    runner.train()
    weights = runner.message_hub.get_scalar('train/contrast_weight').data[0]
    assert list(weights[:4]) == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert all(w == pytest.approx(0.1) for w in weights[4:])


def test_contrast_warmup_ramps_mix_weight_of_a_pixel_head():
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from coretune_mm.engine.hooks import ContrastWarmupHook
    from coretune_mm.models import CoreTuneASPPHead
    model = nn.Module()
    model.decode_head = CoreTuneASPPHead(
        in_channels=4,
        channels=8,
        num_classes=3,
        dilations=(1, 2),
        contrast_weight=0.2,
        mix_weight=0.5,
        mix_loss=True)
    runner = SimpleNamespace(
        model=model, iter=0, message_hub=MessageHub.get_instance('warmup_mix'))
    hook = ContrastWarmupHook(warmup_iters=4, mix_weight=True)
    hook.before_train(runner)
    runner.iter = 1
    hook.before_train_iter(runner, 1)
    head = model.decode_head
    assert head.core_tuning.contrast_weight == pytest.approx(0.1)
    assert head.core_tuning.mix_weight == pytest.approx(0.25)
    # a classification head has no mix_weight to ramp
    from coretune_mm.models import CoreTuneClsHead
    classifier = nn.Module()
    classifier.head = CoreTuneClsHead(num_classes=3, in_channels=4)
    with pytest.raises(ValueError, match='mix_weight'):
        ContrastWarmupHook(
            2,
            mix_weight=True).before_train(SimpleNamespace(model=classifier))
