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

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from coretune_mm.utils.demo_data import make_digits_folder  # noqa: E402

CLS_CONFIG = 'configs/demo/resnet18_coretune_digits-folder.py'


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
             work_dir, '--out', out)
    with open(out) as f:
        return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/demo')
    args = parser.parse_args()
    os.chdir(REPO)

    make_digits_folder('data/demo/digits')
    metrics = train_and_test(CLS_CONFIG, osp.join(args.work_dir, 'cls'))
    print('\nClassification demo (Core-tuning, ResNet-18, digits, '
          f'{len(glob.glob("data/demo/digits/val/*/*.png"))} val images): '
          f'top-1 = {metrics["accuracy/top1"]:.2f}%')


if __name__ == '__main__':
    main()
