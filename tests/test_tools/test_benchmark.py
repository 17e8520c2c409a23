"""Smoke tests of tools/analysis_tools/benchmark.py and the launcher scripts
(tiny cases): a renamed function or a wrong path cannot break a tool
silently."""
import json
import os
import os.path as osp
import stat

import pytest
import torch
import torch.nn.functional as F
from tool_runs import load_tool, run_process

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SCRIPT = 'analysis_tools/benchmark.py'


def test_naive_reference_equals_the_core_loss():
    from coretune_mm.core import focal_supcon_loss
    benchmark = load_tool(SCRIPT)
    z = F.normalize(torch.randn(12, 8), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 0, 1, 2, 3, 4])
    assert torch.allclose(
        benchmark._naive_focal_supcon(z, labels),
        focal_supcon_loss(z, labels),
        atol=1e-6)


def test_scaling_runs_and_writes_its_table(tmp_path):
    out = tmp_path / 'scaling.json'
    report = load_tool(SCRIPT).main([
        'scaling', '--sizes', '16', '48', '--naive-max', '16', '--steps', '1',
        '--warmup', '0', '--json',
        str(out)
    ])
    assert json.loads(out.read_text()) == report
    assert [row['M'] for row in report['rows']] == [16, 48]
    assert 'naive_ms' in report['rows'][0]
    assert 'naive_ms' not in report['rows'][1]  # above --naive-max
    assert all(row['vectorised_ms'] > 0 for row in report['rows'])


@pytest.mark.slow
def test_pair_reports_ratios(tmp_path):
    configs = [
        osp.join(REPO, 'configs', 'demo', f'resnet18_{m}_digits-folder.py')
        for m in ('ce', 'coretune')
    ]
    benchmark = load_tool(SCRIPT)
    report = benchmark.main([
        'pair', *configs, '--batch', '4', '--size', '32', '--steps', '1',
        '--warmup', '0', '--cfg-options', 'model.head.num_classes=5',
        '--core-cfg-options', 'model.head.contrast_weight=0.5'
    ])
    # in this process and in each model's memory process; the Core-tuning
    # options reach the Core-tuning model only
    assert report['cfg_options'] == ['model.head.num_classes=5']
    assert report['core_cfg_options'] == ['model.head.contrast_weight=0.5']
    assert report['ce']['cfg_options'] == ['model.head.num_classes=5']
    assert report['core']['cfg_options'] == [
        'model.head.num_classes=5', 'model.head.contrast_weight=0.5'
    ]
    assert report['step_time_ratio'] > 0
    assert report['peak_memory_ratio'] > 0
    # an option the CE head does not take: the error names the config
    with pytest.raises(SystemExit) as error:
        benchmark.main([
            'pair', *configs, '--batch', '4', '--size', '32', '--steps', '1',
            '--warmup', '0', '--cfg-options', 'model.head.contrast_weight=0.5'
        ])
    message = str(error.value)
    assert message.startswith(f'{configs[0]}: building or training it')
    assert 'contrast_weight' in message and '--core-cfg-options' in message
    with pytest.raises(ValueError, match='--core-cfg-options: expected'):
        benchmark.main(['pair', *configs, '--core-cfg-options', 'depth'])


def test_profile_reports_what_core_tuning_adds(tmp_path):
    configs = [
        osp.join(REPO, 'configs', 'demo', f'resnet18_{m}_digits-folder.py')
        for m in ('ce', 'coretune')
    ]
    out = tmp_path / 'profile.json'
    report = load_tool(SCRIPT).main([
        'profile', *configs, '--batch', '4', '--size', '32', '--steps', '1',
        '--warmup', '0', '--top', '5', '--cfg-options',
        'model.backbone.depth=18', '--json',
        str(out)
    ])
    assert json.loads(out.read_text()) == report
    assert report['cfg_options'] == ['model.backbone.depth=18']
    assert len(report['top_added']) == 5
    # the projector's products are Core-tuning's alone
    assert report['added_matrix_products_ms'] > 0
    assert report['added_matrix_products_share_of_ce_step'] == \
        pytest.approx(report['added_matrix_products_ms'] /
                      report['ce']['profiled_step_ms'])


def test_cfg_options_change_the_model_both_methods_build():
    """``--cfg-options`` reach the built model as ``tools/train.py`` reads
    them (typed values)."""
    benchmark = load_tool(SCRIPT)
    options = ['model.backbone.depth=18', 'a.b=[1,2]', 'c=None']
    expected = {'model.backbone.depth': 18, 'a.b': [1, 2], 'c': None}
    assert benchmark.parse_options(options) == expected
    assert benchmark.parse_options([]) == {}
    with pytest.raises(ValueError, match='--cfg-options: expected key=value'):
        benchmark.main(['pair', 'a.py', 'b.py', '--cfg-options', 'depth'])
    config = osp.join(REPO, 'configs', 'demo',
                      'resnet18_coretune_digits-folder.py')
    model, _ = benchmark._build(
        config, 'cpu', ['model.backbone.depth=34', 'model.head.num_classes=3'])
    assert len(model.backbone.layer1) == 3  # ResNet-34: 3 basic blocks
    assert model.head.num_classes == 3


def fake_command(folder, name: str) -> str:
    """An executable ``name`` that records its arguments, one per line."""
    path = osp.join(folder, name)
    with open(path, 'w') as f:
        f.write('#!/usr/bin/env bash\n'
                f'printf "%s\\n" "$@" > "{path}.args"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path + '.args'


@pytest.mark.parametrize('script, args, launcher, after_tool, option', [
    ('dist_train.sh', ['CFG', '4', '--amp'], 'torchrun',
     ['CFG', '--launcher', 'pytorch', '--amp'], '--nproc_per_node=4'),
    ('dist_test.sh', ['CFG', 'CKPT', '4', '--tta'], 'torchrun',
     ['CFG', 'CKPT', '--launcher', 'pytorch', '--tta'], '--nproc_per_node=4'),
    ('slurm_train.sh', ['PART', 'JOB', 'CFG', '--amp'], 'srun',
     ['CFG', '--launcher=slurm', '--amp'], '--job-name=JOB'),
    ('slurm_test.sh', ['PART', 'JOB', 'CFG', 'CKPT', '--tta'], 'srun',
     ['CFG', 'CKPT', '--launcher=slurm', '--tta'], '--job-name=JOB'),
])
def test_launchers_call_the_tools(tmp_path, script, args, launcher, after_tool,
                                  option):
    """The launcher receives this repository's train.py / test.py with the
    config (and checkpoint), the launcher option and the extra arguments."""
    record = fake_command(str(tmp_path), launcher)
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    run_process(['bash', osp.join(REPO, 'tools', script), *args], env=env)
    called = open(record).read().splitlines()
    tool = 'train.py' if 'train' in script else 'test.py'
    position = next(i for i, a in enumerate(called) if a.endswith(tool))
    assert osp.samefile(called[position], osp.join(REPO, 'tools', tool))
    assert called[position + 1:] == after_tool
    assert option in called[:position]
