"""FeatureSpaceHook: the class-separation statistics of the classifier's
input features, logged and drawn at each validation, on a tiny run and on
stand-in models."""
import glob
import json
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.runner import Runner

from coretune_mm.engine.hooks import FeatureSpaceHook


def test_feature_space_hook_logs_and_plots(tiny_cfg, tmp_path):
    cfg = tiny_cfg(tmp_path / 'feat', max_epochs=2)
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
