"""The main job on an embedded default: train and test on generated data.

Builds small data sets from real images that scikit-learn ships (no
downloads): handwritten digits as an image folder, and scenes of digits in
PASCAL VOC's layout. Trains with ``tools/train.py``, evaluates the last
checkpoint with ``tools/test.py`` and prints the metrics: top-1 of the
classifier, then the segmenter's table per class (background and the ten
digits), for CE and Core-tuning. The segmenter starts from the backbone the
classification part has just trained.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import torch

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CLS_CONFIG = 'configs/demo/resnet18_coretune_digits-folder.py'
SEG_CONFIGS = dict(
    CE='configs/demo/deeplabv3_r18_ce_digit-scenes.py',
    Core='configs/demo/deeplabv3_r18_coretune_digit-scenes.py')
# larger digits with thicker masks than the tests' scenes, on a small canvas:
# the segmenter learns every digit in a few hundred iterations
SCENES = dict(
    num_train=200,
    num_val=100,
    canvas=48,
    digit_size=32,
    max_digits=2,
    mask_threshold=0.3)
SEG_ROOT = 'data/demo/digit_scenes/VOC2012'
NEXT = """
One seed on a few scenes: this shows the tool chain, not which method is
better. Next:
  docs/results.md              what has been measured, with its commands
  configs/deeplabv3_r50_coretune_voc.py, configs/resnet/, configs/vit/
                               the real configs (README.md: Quick start)
  docs/usage.md                options, logged statistics, your own data"""


def run_tool(tool: str, *args: str) -> None:
    cmd = [sys.executable, osp.join(REPO, 'tools', tool), *args]
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train_and_test(config: str, work_dir: str, *options: str) -> dict:
    options = ('--cfg-options', *options) if options else ()
    run_tool('train.py', config, '--work-dir', work_dir, *options)
    out = osp.join(work_dir, 'test_metrics.json')
    run_tool('test.py', config, last_checkpoint(work_dir), '--work-dir',
             work_dir, '--out-item', 'metrics', '--out', out, *options)
    with open(out) as f:
        return json.load(f)


def save_backbone(checkpoint: str, path: str) -> None:
    """The backbone of a classification checkpoint, for the segmenter."""
    from coretune_mm.checkpoint import read_checkpoint, state_dict_of
    state = state_dict_of(
        read_checkpoint(checkpoint, 'checkpoint'), checkpoint, 'checkpoint')
    torch.save(
        dict(state_dict={
            k: v
            for k, v in state.items() if k.startswith('backbone.')
        }), path)


def seg_table(results: dict) -> str:
    """IoU per class (rows) for each run (columns), then the summary."""
    classes = ['background'] + [str(d) for d in range(10)]
    names = list(results)
    lines = [
        '  | class      | ' + ' | '.join(f'{n:>6}' for n in names) + ' |',
        '  |------------|' + '|'.join('--------' for _ in names) + '|'
    ]
    for cls in classes:
        cells = [results[n].get(f'IoU.{cls}', float('nan')) for n in names]
        lines.append(f'  | {cls:<10} | ' + ' | '.join(f'{v:6.2f}'
                                                      for v in cells) + ' |')
    for key in ('mIoU', 'FWIoU', 'MPA', 'aAcc'):
        lines.append(f'  | {key:<10} | ' + ' | '.join(f'{results[n][key]:6.2f}'
                                                      for n in names) + ' |')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--task', choices=['all', 'cls', 'seg'], default='all')
    args = parser.parse_args()
    os.chdir(REPO)

    lines = []
    cls_dir = osp.join(args.work_dir, 'cls')
    backbone = osp.join(cls_dir, 'backbone.pth')
    if args.task in ('all', 'cls'):
        make_digits_folder('data/demo/digits')
        metrics = train_and_test(CLS_CONFIG, cls_dir)
        save_backbone(last_checkpoint(cls_dir), backbone)
        num_val = len(glob.glob('data/demo/digits/val/*/*.png'))
        lines.append('Classification (Core-tuning, ResNet-18, digits, '
                     f'{num_val} val images): top-1 = '
                     f'{metrics["accuracy/top1"]:.2f}%')
    if args.task in ('all', 'seg'):
        if not osp.isfile(backbone):
            raise SystemExit(f'{backbone}: run the classification part '
                             'first (--task cls or all)')
        make_digits_voc(SEG_ROOT, **SCENES)
        options = [
            f'{loader}.dataset.data_root={SEG_ROOT}'
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader')
        ] + [
            f'model.backbone.init_cfg.checkpoint={backbone}',
            'test_evaluator.classwise=True'
        ]
        results = {
            name: train_and_test(config, osp.join(args.work_dir, name),
                                 *options)
            for name, config in SEG_CONFIGS.items()
        }
        lines.append(
            'Segmentation (DeepLab-V3 R18 from the classifier\'s backbone, '
            f'digit scenes, {SCENES["num_val"]} val images), IoU per '
            'class:\n' + seg_table(results))
    print('\n' + '\n'.join(lines + [NEXT]))


if __name__ == '__main__':
    main()
