"""A small real-data reproduction: CE-tuning vs Core-tuning on the digits.

1. MoCo-v2 pre-training (MMPretrain's implementation) of a ResNet-18 on the
   digits images that scikit-learn ships, labels unused;
2. fine-tuning from that checkpoint with the CE and the Core-tuning demo
   configs on 10 % and 100 % of the training labels, several seeds;
3. the ablations of Core-tuning on the 10 % setting;
4. top-1 on the held-out split as mean +/- std, written with a plot to
   ``docs/reproduction.md`` / ``docs/reproduction.png``.

Runs on 2 CPU cores in well under an hour::

    .venv/bin/python tools/reproduce_digits.py

Finished runs are kept (``test.json`` in each work dir) and skipped when the
script runs again.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from coretune_mm.utils.demo_data import make_digits_folder  # noqa: E402

DATA = 'data/repro/digits'
PRETRAIN_CONFIG = 'configs/reproduce/mocov2_resnet18_digits.py'
CONFIGS = dict(
    ce='configs/demo/resnet18_ce_digits-folder.py',
    coretune='configs/demo/resnet18_coretune_digits-folder.py')
ABLATIONS = {
    'coretune w/o focal weight': ['model.head.contrast_loss.gamma=0.0'],
    'coretune w/o hard positives': ['model.head.mixup.hard_positives=False'],
    'coretune w/o hard negatives': ['model.head.mixup.hard_negatives=False'],
    'coretune w/o smooth classifier': ['model.head.smooth_classifier=False'],
}


def run(*cmd: str) -> None:
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(
        [sys.executable, *cmd],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL)


def label_subset(src: str, dst: str, every: int) -> str:
    """Every ``every``-th training image of each class; the same val split."""
    for split in ('train', 'val'):
        for cls in sorted(os.listdir(osp.join(src, split))):
            files = sorted(os.listdir(osp.join(src, split, cls)))
            if split == 'train':
                files = files[::every]
            os.makedirs(osp.join(dst, split, cls), exist_ok=True)
            for name in files:
                target = osp.join(dst, split, cls, name)
                if not osp.exists(target):
                    shutil.copy(osp.join(src, split, cls, name), target)
    return dst


def pretrain(work_dir: str, epochs: int) -> str:
    checkpoint = osp.join(work_dir, f'epoch_{epochs}.pth')
    if not osp.isfile(checkpoint):
        run('tools/train.py', PRETRAIN_CONFIG, '--work-dir', work_dir,
            '--cfg-options', f'train_cfg.max_epochs={epochs}',
            f'param_scheduler.0.T_max={epochs}',
            f'param_scheduler.0.end={epochs}',
            f'default_hooks.checkpoint.interval={epochs}')
    return checkpoint


def from_checkpoint(config: str, checkpoint: str, work_dir: str) -> str:
    """A config inheriting ``config`` whose backbone starts from the
    MMPretrain MoCo-v2 checkpoint (its backbone is under ``backbone.``)."""
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'finetune_config.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = '{osp.join(REPO, config)}'\n"
                'model = dict(backbone=dict(init_cfg=dict(_delete_=True, '
                f"type='Pretrained', checkpoint='{osp.join(REPO, checkpoint)}'"
                ", prefix='backbone.')))\n")
    return path


def finetune(name: str, config: str, data_root: str, checkpoint: str,
             seed: int, epochs: int, work_dir: str, extra=()) -> float:
    out = osp.join(work_dir, 'test.json')
    if not osp.isfile(out):
        options = [
            f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}',
            f'randomness.seed={seed}', f'train_cfg.max_epochs={epochs}',
            f'train_cfg.val_interval={epochs}',
            f'param_scheduler.T_max={epochs}',
            f'default_hooks.checkpoint.interval={epochs}',
            'default_hooks.checkpoint.save_best=None', *extra
        ]
        config = from_checkpoint(config, checkpoint, work_dir)
        run('tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', *options)
        run('tools/test.py', config, osp.join(work_dir, f'epoch_{epochs}.pth'),
            '--work-dir', work_dir, '--out', out, '--cfg-options', *options)
    with open(out) as f:
        top1 = json.load(f)['accuracy/top1']
    print(f'{name}, seed {seed}: top-1 {top1:.2f}', flush=True)
    return top1


def plot(results: dict, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    names = list(results)
    means = [statistics.mean(results[n]) for n in names]
    stds = [statistics.pstdev(results[n]) for n in names]
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    ax.barh(range(len(names)), means, xerr=stds, color=[
        'tab:blue' if 'ce' in n.split(',')[0] else 'tab:orange'
        for n in names
    ])
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(min(means) - 10, 100)
    ax.set_xlabel('top-1 (%) on the held-out digits, mean +/- std over seeds')
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument(
        '--ablation-seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--pretrain-epochs', type=int, default=30)
    parser.add_argument('--work-dir', default='work_dirs/repro')
    args = parser.parse_args()
    os.chdir(REPO)

    make_digits_folder(DATA)
    fractions = {
        '100%': (DATA, 4),
        '10%': (label_subset(DATA, 'data/repro/digits10', 10), 30),
    }
    checkpoint = pretrain(
        osp.join(args.work_dir, 'mocov2'), args.pretrain_epochs)

    results = {}
    runs = [(f'{m}, {f} labels', CONFIGS[m], f, (), args.seeds)
            for f in fractions for m in ('ce', 'coretune')]
    runs += [(f'{a}, 10% labels', CONFIGS['coretune'], '10%', extra,
              args.ablation_seeds) for a, extra in ABLATIONS.items()]
    for name, config, fraction, extra, seeds in runs:
        data_root, epochs = fractions[fraction]
        slug = name.replace(' ', '_').replace(',', '').replace('/', '')
        results[name] = [
            finetune(name, config, data_root, checkpoint, seed, epochs,
                     osp.join(args.work_dir, slug, f'seed{seed}'), extra)
            for seed in seeds
        ]

    os.makedirs('docs', exist_ok=True)
    plot(results, 'docs/reproduction.png')
    with open('docs/reproduction.json', 'w') as f:
        json.dump(results, f, indent=2)
    lines = [
        '| run | top-1 (mean +/- std) | per seed |', '| --- | --- | --- |'
    ]
    for name, values in results.items():
        lines.append(f'| {name} | {statistics.mean(values):.2f} +/- '
                     f'{statistics.pstdev(values):.2f} | ' +
                     ', '.join(f'{v:.2f}' for v in values) + ' |')
    table = '\n'.join(lines)
    print(table)
    with open('docs/reproduction_table.md', 'w') as f:
        f.write(table + '\n')


if __name__ == '__main__':
    main()
