"""PretrainedCheckHook: a backbone the pre-trained file did not fill stops
the run (MMEngine loads non-strictly and would leave it random)."""
import pytest
import torch
from mmengine.runner import Runner

from coretune_mm.engine.hooks import PretrainedCheckHook


def fake_moco(tmp_path):
    """A MoCo-layout file holding a ResNet-18 in `module.encoder_q.`."""
    from mmpretrain.registry import MODELS
    backbone = MODELS.build(dict(type='ResNet', depth=18))
    torch.nn.init.normal_(backbone.conv1.weight)
    state = {
        f'module.encoder_q.{k}': v
        for k, v in backbone.state_dict().items()
    }
    state['module.encoder_q.fc.0.weight'] = torch.zeros(4, 4)
    path = str(tmp_path / 'moco.pth')
    torch.save(dict(state_dict=state), path)
    return path, backbone.state_dict()


def test_pretrained_check_passes_and_fails(tiny_cfg, tmp_path):
    path, expected = fake_moco(tmp_path)
    cfg = tiny_cfg(tmp_path / 'ok', max_epochs=1)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.encoder_q.')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter > 0

    # 'module.' matches keys (encoder_q.conv1.weight, ...) that fit nothing
    # in the backbone: MMEngine loads non-strictly and leaves it random.
    bad = tiny_cfg(tmp_path / 'bad')
    bad.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.')
    with pytest.raises(RuntimeError, match="prefix 'module.encoder_q.'"):
        Runner.from_cfg(bad).train()


def test_resume_without_a_checkpoint_is_checked(tiny_cfg, tmp_path):
    """``--resume`` in an empty work dir is a fresh run: a wrong prefix is
    still caught."""
    path, _ = fake_moco(tmp_path)
    cfg = tiny_cfg(tmp_path / 'empty')
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.')
    cfg.resume, cfg.load_from = True, None
    with pytest.raises(RuntimeError, match="prefix 'module.encoder_q.'"):
        Runner.from_cfg(cfg).train()


def test_pretrained_check_threshold_validation():
    with pytest.raises(ValueError, match='min_loaded_ratio'):
        PretrainedCheckHook(min_loaded_ratio=0)
