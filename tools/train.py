"""Train a model from an MMPretrain or MMSegmentation config.

Example::

    python tools/train.py configs/deeplabv3_r50_coretune_voc.py
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import coretune_mm  # noqa: F401  (registers modules, checkpoint loading)
from coretune_mm.checkpoint import check_checkpoint_file
from coretune_mm.engine import cpu_distributed


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision (GPU only)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value, e.g. '
        'model.decode_head.contrast_weight=0.2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank / --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config."""
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                '--amp needs optim_wrapper.type OptimWrapper or '
                f'AmpOptimWrapper, the config has {optim_wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr` '
                             '(base_batch_size) in the config')
        cfg.auto_scale_lr.enable = True
    return cfg


def check_checkpoints(cfg: Config) -> None:
    """Fail before the Runner starts when a checkpoint the config names is
    missing or unreadable: ``load_from`` / ``--resume`` and the backbone's
    ``Pretrained`` ``init_cfg`` (local files; URLs are left to MMEngine)."""
    if cfg.get('load_from'):
        check_checkpoint_file(cfg.load_from,
                              '--resume' if cfg.get('resume') else 'load_from')
        return  # the loaded weights replace the pre-trained ones
    init_cfg = cfg.get('model', {}).get('backbone', {}).get('init_cfg')
    for item in init_cfg if isinstance(init_cfg, list) else [init_cfg]:
        if isinstance(item, dict) and item.get('type') == 'Pretrained':
            path = str(item.get('checkpoint', ''))
            if '://' in path:
                continue
            keys = check_checkpoint_file(path,
                                         'model.backbone.init_cfg.checkpoint')
            prefix = item.get('prefix')
            if prefix and not any(k.startswith(prefix) for k in keys):
                stems = [
                    k[:-len('conv1.weight')] for k in keys
                    if k.endswith('conv1.weight') and '.layer' not in f'.{k}'
                ]
                hint = f'; its ResNet stem is under {stems[0]!r}' if stems \
                    else ''
                raise ValueError(
                    f'model.backbone.init_cfg.prefix={prefix!r} matches no '
                    f'key of {path}{hint}')


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    check_checkpoints(cfg)
    with cpu_distributed(cfg):
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == '__main__':
    main()
