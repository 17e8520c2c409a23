"""The main job on an embedded default: train and test on generated data.

Builds a small dataset from real images that scikit-learn ships (no
downloads), trains with ``tools/train.py``, evaluates the last checkpoint with
``tools/test.py`` and prints the metrics.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

from coretune_mm.datasets.demo_data import make_digits_folder, make_digits_voc

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CLS_CONFIG = 'configs/demo/resnet18_coretune_digits-folder.py'
SEG_CONFIG = 'configs/demo/deeplabv3_r50_coretune_digits-voc.py'


def run_tool(tool: str, *args: str) -> None:
    cmd = [sys.executable, osp.join(REPO, 'tools', tool), *args]
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train_and_test(config: str, work_dir: str) -> dict:
    run_tool('train.py', config, '--work-dir', work_dir)
    out = osp.join(work_dir, 'test_metrics.json')
    run_tool('test.py', config, last_checkpoint(work_dir), '--work-dir',
             work_dir, '--out-item', 'metrics', '--out', out)
    with open(out) as f:
        return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--task', choices=['all', 'cls', 'seg'], default='all')
    args = parser.parse_args()
    os.chdir(REPO)

    lines = []
    if args.task in ('all', 'cls'):
        make_digits_folder('data/demo/digits')
        metrics = train_and_test(CLS_CONFIG, osp.join(args.work_dir, 'cls'))
        num_val = len(glob.glob('data/demo/digits/val/*/*.png'))
        lines.append('Classification (Core-tuning, ResNet-18, digits, '
                     f'{num_val} val images): top-1 = '
                     f'{metrics["accuracy/top1"]:.2f}%')
    if args.task in ('all', 'seg'):
        make_digits_voc('data/demo/digits_voc/VOC2012')
        metrics = train_and_test(SEG_CONFIG, osp.join(args.work_dir, 'seg'))
        lines.append(
            'Segmentation (Core-tuning, DeepLab-V3 R50, digit scenes, VOC '
            'format):\n'
            '  | MIoU  | FWIoU | MPA   | aAcc  |\n'
            '  |-------|-------|-------|-------|\n' + '  | ' +
            ' | '.join(f'{metrics[k]:5.2f}'
                       for k in ('mIoU', 'FWIoU', 'MPA', 'aAcc')) + ' |')
    print('\n' + '\n'.join(lines))


if __name__ == '__main__':
    main()
