"""tools/demo.py (``make demo``) in seconds: its imports, its order
(classifier, its backbone saved, then both segmenters from that backbone) and
its printed tables, with the training runs stood in for; and that every script
under tools/ is named by some test."""
import os
import os.path as osp
import re
import sys

import torch
from tool_runs import REPO, load_tool, run_process


def test_demo_runs_its_parts_in_order(tmp_path, monkeypatch, capsys):
    demo = load_tool('demo.py')
    calls = []

    def train_and_test(config, work_dir, *options):
        calls.append((config, work_dir, options))
        os.makedirs(work_dir, exist_ok=True)
        checkpoint = osp.join(work_dir, 'epoch_1.pth')
        torch.save(
            dict(
                state_dict={
                    'backbone.conv1.weight': torch.ones(2),
                    'head.fc.weight': torch.ones(3)
                }), checkpoint)
        with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
            f.write(checkpoint)
        if 'cls' in work_dir:
            return {'accuracy/top1': 90.0}
        metrics = {f'IoU.{c}': 50.0 for c in ['background', *'0123456789']}
        return dict(metrics, mIoU=50.0, FWIoU=60.0, MPA=70.0, aAcc=80.0)

    made = []
    monkeypatch.setattr(demo, 'train_and_test', train_and_test)
    monkeypatch.setattr(demo, 'make_digits_folder', made.append)
    monkeypatch.setattr(demo, 'make_digits_voc',
                        lambda root, **kw: made.append(root))
    monkeypatch.setattr(sys, 'argv', ['demo.py', '--work-dir', str(tmp_path)])
    demo.main()
    assert made == ['data/demo/digits', demo.SEG_ROOT]
    assert [c[0]
            for c in calls] == [demo.CLS_CONFIG, *demo.SEG_CONFIGS.values()]
    backbone = osp.join(str(tmp_path), 'cls', 'backbone.pth')
    assert list(
        torch.load(backbone)['state_dict']) == ['backbone.conv1.weight']
    for _, _, options in calls[1:]:
        assert f'model.backbone.init_cfg.checkpoint={backbone}' in options
    out = capsys.readouterr().out
    assert 'top-1 = 90.00%' in out
    assert '| mIoU       |  50.00 |  50.00 |' in out


def test_demo_help_imports_in_a_fresh_process():
    done = run_process([sys.executable, 'tools/demo.py', '--help'])
    assert '--task' in done.stdout


def test_every_tool_is_named_by_a_test():
    """Each script under tools/ is named by its path there (``tools/`` in front
    or not) in some test, so that none goes untested unseen."""
    tests = []
    for folder, _, files in os.walk(osp.join(REPO, 'tests')):
        for name in files:
            if name.endswith('.py'):
                with open(osp.join(folder, name)) as f:
                    tests.append(f.read())
    text = '\n'.join(tests)
    untested = []
    for folder, _, files in os.walk(osp.join(REPO, 'tools')):
        for name in files:
            path = osp.relpath(osp.join(folder, name), osp.join(REPO, 'tools'))
            named = re.compile(r'(?<![\w/.-])(tools/)?' + re.escape(path) +
                               r'(?![\w/.-])')
            if name.endswith(('.py', '.sh')) and name != '__init__.py' and \
                    not named.search(text):
                untested.append(path)
    assert untested == []
