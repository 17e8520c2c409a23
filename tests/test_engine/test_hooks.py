"""Each hook on a tiny classification run (ResNet-18, 32 px, digits)."""
import copy
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

import coretune_mm  # noqa: F401
from coretune_mm.datasets.demo_data import make_digits_folder
from coretune_mm.engine.hooks import FeatureSpaceHook, PretrainedCheckHook

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'resnet18_coretune_digits-folder.py')


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    return make_digits_folder(str(tmp_path_factory.mktemp('digits')), limit=60)


def tiny_cfg(digits, work_dir, **train_cfg):
    cfg = Config.fromfile(CONFIG)
    deterministic = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = digits
        cfg[loader].num_workers = 0
        cfg[loader].batch_size = 8
        cfg[loader].dataset.pipeline = deterministic
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.update(dict(max_epochs=1, val_interval=1), **train_cfg)
    cfg.param_scheduler.T_max = cfg.train_cfg.max_epochs
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.logger.interval = 1
    cfg.experiment_name = osp.basename(str(work_dir))
    return cfg


def fake_moco(tmp_path, digits):
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


def test_pretrained_check_passes_and_fails(digits, tmp_path):
    path, expected = fake_moco(tmp_path, digits)
    cfg = tiny_cfg(digits, tmp_path / 'ok', max_epochs=1)
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.encoder_q.')
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter > 0

    # 'module.' matches keys (encoder_q.conv1.weight, ...) that fit nothing
    # in the backbone: MMEngine loads non-strictly and leaves it random.
    bad = tiny_cfg(digits, tmp_path / 'bad')
    bad.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.')
    with pytest.raises(RuntimeError, match="prefix 'module.encoder_q.'"):
        Runner.from_cfg(bad).train()


def test_resume_without_a_checkpoint_is_checked(digits, tmp_path):
    """``--resume`` in an empty work dir is a fresh run: a wrong prefix is
    still caught."""
    path, _ = fake_moco(tmp_path, digits)
    cfg = tiny_cfg(digits, tmp_path / 'empty')
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=path, prefix='module.')
    cfg.resume, cfg.load_from = True, None
    with pytest.raises(RuntimeError, match="prefix 'module.encoder_q.'"):
        Runner.from_cfg(cfg).train()


def test_pretrained_check_threshold_validation():
    with pytest.raises(ValueError, match='min_loaded_ratio'):
        PretrainedCheckHook(min_loaded_ratio=0)


def test_feature_space_hook_logs_and_plots(digits, tmp_path):
    cfg = tiny_cfg(digits, tmp_path / 'feat', max_epochs=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = runner.message_hub.log_scalars
    for key in ('intra', 'inter_mean', 'inter_min', 'ratio'):
        assert f'val/feature_{key}' in scalars
    pngs = glob.glob(osp.join(runner.work_dir, 'feature_space', 'val_*.png'))
    assert pngs
    # the same picture through the visualizer's (local) backend
    assert glob.glob(
        osp.join(runner.log_dir, 'vis_data', 'vis_image',
                 'val_feature_space_*.png'))
    # each validation's own line carries its own values (the hook runs
    # before LoggerHook), at the metrics' step
    with open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]) as f:
        lines = f.read().splitlines()
    measured = [
        float(line.split('ratio ')[1]) for line in lines
        if 'Feature space (val' in line
    ]
    logged = [
        float(line.split('feature_ratio: ')[1].split()[0]) for line in lines
        if 'Epoch(val)' in line and 'feature_ratio' in line
    ]
    assert len(measured) == 2 and len(logged) == 2
    assert logged == pytest.approx(measured, abs=1e-4)
    with open(osp.join(runner.log_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f]
    val = [r for r in records if 'feature_ratio' in r]
    assert [r['step'] for r in val] == [1, 2]  # epochs, as accuracy
    assert all('accuracy/top1' in r for r in val)
    metrics = runner.test()
    assert metrics['feature_ratio'] == pytest.approx(
        runner.message_hub.get_scalar('test/feature_ratio').current())


class FakeRunner:
    """What FeatureSpaceHook uses of a runner."""

    def __init__(self, model):
        from mmengine.logging import MessageHub, MMLogger
        self.model = model
        self.message_hub = MessageHub.get_instance('feature-hook-test')
        self.logger = MMLogger.get_instance('feature-hook-test')
        self.work_dir = None
        self.iter = 0


def evaluate(hook, runner, batches):
    """Drive the hook's validation points; ``batches`` yields outputs after
    running the model's classifier as inference would."""
    hook.before_val_epoch(runner)
    for i, outputs in enumerate(batches):
        hook.after_val_iter(runner, i, None, outputs)
    metrics = {}
    hook.after_val_epoch(runner, metrics)
    return metrics


def cls_model():
    model = nn.Module()
    model.head = nn.Module()
    model.head.fc = nn.Linear(4, 3)
    return model


def cls_batches(model, labelled=True, forwards=1):
    from mmpretrain.structures import DataSample
    for _ in range(3):
        x = torch.randn(6, 4)
        for _ in range(forwards):
            model.head.fc(x)
        samples = [DataSample() for _ in range(6)]
        if labelled:
            for i, sample in enumerate(samples):
                sample.set_gt_label(i % 3)
        yield samples


def test_feature_space_hook_measures_a_labelled_set():
    model = cls_model()
    runner = FakeRunner(model)
    metrics = evaluate(FeatureSpaceHook(), runner, cls_batches(model))
    assert set(metrics) == {
        'feature_intra', 'feature_inter_mean', 'feature_inter_min',
        'feature_ratio'
    }
    assert runner.message_hub.get_scalar('val/feature_ratio').current() == \
        metrics['feature_ratio']


@pytest.mark.parametrize('case',
                         ['unlabelled', 'slide', 'no_classifier', 'no_head'])
def test_feature_space_hook_skips_what_it_cannot_measure(case):
    model = cls_model()
    if case == 'no_classifier':  # e.g. a ViT head's `layers.head`
        model.head.fc = None
        model.head.classifier = nn.Linear(4, 3)
    if case == 'no_head':
        model = nn.Linear(4, 3)

    def batches():
        if case in ('no_classifier', 'no_head'):
            return [[]]
        return cls_batches(
            model,
            labelled=case != 'unlabelled',
            forwards=2 if case == 'slide' else 1)

    runner = FakeRunner(model)
    warnings = []
    runner.logger.warning = warnings.append
    hook = FeatureSpaceHook()
    for _ in range(2):  # one warning per reason, not per evaluation
        assert evaluate(hook, runner, batches()) == {}
    reason = dict(
        unlabelled='no gt_label',
        slide='several times',
        no_classifier='no `fc` or `conv_seg`',
        no_head='neither `head`')[case]
    assert len(warnings) == 1 and 'skipped' in warnings[0]
    assert reason in warnings[0]


def test_feature_space_hook_pixels_of_several_sizes():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = nn.Module()
    model.decode_head = nn.Module()
    model.decode_head.conv_seg = nn.Conv2d(4, 2, 1)
    model.decode_head.ignore_index = 255
    runner = FakeRunner(model)

    def batches():
        model.decode_head.conv_seg(torch.randn(2, 4, 4, 4))
        samples = []
        for size in (8, 12):  # original sizes differ within the batch
            label = torch.zeros(1, size, size, dtype=torch.long)
            label[:, :, size // 2:] = 1
            label[:, 0] = 255
            sample = SegDataSample()
            sample.gt_sem_seg = PixelData(data=label)
            samples.append(sample)
        yield samples

    hook = FeatureSpaceHook()
    metrics = evaluate(hook, runner, batches())
    assert sum(len(y) for y in hook._labels) == 2 * 12  # ignore row left out
    assert 0 <= metrics['feature_intra'] <= 2


def test_contrast_warmup(digits, tmp_path):
    cfg = tiny_cfg(digits, tmp_path / 'warm')
    cfg.custom_hooks.append(dict(type='ContrastWarmupHook', warmup_iters=4))
    runner = Runner.from_cfg(cfg)
    runner.train()
    weights = runner.message_hub.get_scalar('train/contrast_weight').data[0]
    assert list(weights[:4]) == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert all(w == pytest.approx(0.1) for w in weights[4:])


class RecordRNGHook(Hook):
    """The global random states where each epoch starts (after RNGStateHook has
    restored them)."""
    priority = 'LOWEST'

    def __init__(self):
        self.states = []

    def before_train_epoch(self, runner):
        self.states.append(
            (torch.get_rng_state(), np.random.get_state()[1].copy()))


@pytest.mark.parametrize('val_interval', [1, 2])
def test_resume_continues_exactly(digits, tmp_path, val_interval):
    """Interrupted after epoch 1 and resumed, a run starts epoch 2 with the
    random states of the uninterrupted run and ends with its weights, also when
    validation (whose loader draws from torch's generator) runs between the
    checkpoint and the next epoch."""

    def final_state(runner):
        return {k: v.clone() for k, v in runner.model.state_dict().items()}

    def cfg_for(name):
        return tiny_cfg(
            digits, tmp_path / name, max_epochs=2, val_interval=val_interval)

    whole = Runner.from_cfg(cfg_for('whole'))
    whole_rng = RecordRNGHook()
    whole.register_hook(whole_rng)
    whole.train()
    expected = final_state(whole)

    cfg = cfg_for('parts')
    stop = copy.deepcopy(cfg)
    stop.custom_hooks.append(dict(type='StopAfterEpochHook', epoch=1))
    first = Runner.from_cfg(stop)
    first.train()
    assert first.epoch == 1
    checkpoint = osp.join(cfg.work_dir, 'epoch_1.pth')
    assert len(torch.load(checkpoint)['rng_state']['ranks']) == 1

    cfg.resume, cfg.load_from = True, checkpoint
    cfg.experiment_name += '_resumed'
    resumed = Runner.from_cfg(cfg)
    resumed_rng = RecordRNGHook()
    resumed.register_hook(resumed_rng)
    resumed.train()
    assert resumed.iter == whole.iter and resumed.epoch == 2
    (torch_whole, np_whole), (torch_resumed, np_resumed) = \
        whole_rng.states[1], resumed_rng.states[0]
    assert torch.equal(torch_whole, torch_resumed)
    assert (np_whole == np_resumed).all()
    got = final_state(resumed)
    for key, value in expected.items():
        assert torch.equal(got[key], value), key


def test_load_from_keeps_its_own_seed(digits, tmp_path):
    """``load_from`` starts a new run: the checkpoint's random states are not
    restored over the run's own seed."""
    source = Runner.from_cfg(tiny_cfg(digits, tmp_path / 'source'))
    source.train()
    checkpoint = osp.join(source.work_dir, 'epoch_1.pth')
    saved = torch.load(checkpoint)['rng_state']['ranks'][0]['torch']
    states = []
    for name, load_from in (('fresh', None), ('loaded', checkpoint)):
        cfg = tiny_cfg(digits, tmp_path / name)
        cfg.randomness = dict(seed=1)
        cfg.load_from = load_from
        runner = Runner.from_cfg(cfg)
        record = RecordRNGHook()
        runner.register_hook(record)
        runner.train()
        states.append(record.states[0][0])
    assert not torch.equal(states[1], saved)
    assert torch.equal(states[0], states[1])


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


def test_rng_states_restore_from_tensors_that_are_not_cpu_byte_tensors():
    """MMEngine's resume maps the checkpoint onto the training device, so on a
    GPU the saved states come back as CUDA tensors, which
    ``torch.set_rng_state`` refuses; the hook restores from any tensor holding
    the bytes (an int16 copy stands in for the device tensor)."""
    from coretune_mm.engine.hooks.rng_state_hook import (_global_state,
                                                         _set_global_state)
    saved = _global_state()
    expected = torch.rand(3)
    foreign = dict(saved, torch=saved['torch'].to(torch.int16))
    with pytest.raises((TypeError, RuntimeError)):
        torch.set_rng_state(foreign['torch'])
    _set_global_state(foreign)
    assert torch.equal(torch.rand(3), expected)
