"""Overhead of Core-tuning against its CE baseline, and scaling of the core.

Pair mode builds both models from their configs and runs the same number of
training steps (forward, backward, optimizer step) on the same synthetic
batch after warm-up, interleaving the two models' steps in one process for
the timing and running each model in its own process for its peak memory
(peak RSS on the CPU is per process). It prints median step time, peak
memory and the Core/CE ratios as a table and as JSON::

    C=configs/resnet50_mocov2-pre
    python tools/analysis_tools/benchmark.py pair \
        ${C}_ce_1xb64-accum4-coslr-100e_cifar10.py \
        ${C}_coretune_1xb64-accum4-coslr-100e_cifar10.py \
        --device cuda --batch 64 --size 224

Profile mode runs the same pair under ``torch.profiler`` and prints, per
training step, the operators whose own time Core-tuning adds most and the
time its added matrix products take against the CE step (a floor on the
overhead that no elementwise work changes)::

    U=configs/upernet/upernet_r50_mocov2-pre
    python tools/analysis_tools/benchmark.py profile \
        ${U}_ce_4xb4-20k_voc12aug-512x512.py \
        ${U}_coretune_4xb4-20k_voc12aug-512x512.py \
        --batch 2 --size 128 --steps 4

Scaling mode times hardness-directed mixup + focal contrastive loss
(forward + backward) for M samples, vectorised and with a naive per-anchor
loop, to show the O(M^2) growth that the pixel budget bounds::

    python tools/analysis_tools/benchmark.py scaling --device cuda
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F

REPO = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def _peak_memory_mb(device: str) -> float:
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20
    # ru_maxrss is in KiB on Linux: the whole process's peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_options(options: Optional[List[str]],
                  flag: str = '--cfg-options') -> dict:
    """``key=value`` strings, as ``tools/train.py --cfg-options`` reads them;
    ValueError naming ``flag`` for one without ``=``."""
    if not options:
        return {}
    for option in options:
        if '=' not in option:
            raise ValueError(f'{flag}: expected key=value, got {option!r}')
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def _build(config: str, device: str, options: Optional[List[str]] = None):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import coretune_mm  # noqa: F401
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_options(options))
    cfg.model.backbone.init_cfg = None  # random weights: no checkpoint needed
    if cfg.model.get('pretrained'):
        cfg.model.pretrained = None
    scope = cfg.default_scope
    if scope == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    # SyncBN needs a process group; time the BN it reverts to in one process
    from mmengine.model import revert_sync_batchnorm
    return revert_sync_batchnorm(model).to(device).train(), scope


def _batch(scope: str, model, batch: int, size: int, device: str):
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, 3, size, size, generator=g).to(device)
    if scope == 'mmseg':
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        num_classes = model.decode_head.num_classes
        labels = torch.randint(
            num_classes, (batch, 1, size, size), generator=g)
        samples = [
            SegDataSample(gt_sem_seg=PixelData(data=x.to(device)))
            for x in labels
        ]
    else:
        from mmpretrain.structures import DataSample
        num_classes = model.head.num_classes
        labels = torch.randint(num_classes, (batch, ), generator=g)
        samples = [DataSample().set_gt_label(int(y)) for y in labels]
        for s in samples:
            s.gt_label = s.gt_label.to(device)
    return inputs, samples


def _train_step(model, optimizer, inputs, samples, device) -> float:
    """One forward, backward and optimizer step; milliseconds."""
    _sync(device)
    start = time.perf_counter()
    losses = model(inputs, samples, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    _sync(device)
    return (time.perf_counter() - start) * 1000


def _prepare(config, device, batch, size, options=None):
    torch.manual_seed(0)
    model, scope = _build(config, device, options)
    inputs, samples = _batch(scope, model, batch, size, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return model, optimizer, inputs, samples


def measure_memory(config: str,
                   device: str,
                   batch: int,
                   size: int,
                   steps: int,
                   options: Optional[List[str]] = None) -> dict:
    """Peak memory (MiB) of training steps of one config, alone."""
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    model, optimizer, inputs, samples = _prepare(config, device, batch, size,
                                                 options)
    for _ in range(steps):
        _train_step(model, optimizer, inputs, samples, device)
    report = dict(
        config=os.path.relpath(config, REPO), peak_mb=_peak_memory_mb(device))
    if options:
        report['cfg_options'] = list(options)
    return report


def measure_times(configs,
                  device: str,
                  batch: int,
                  size: int,
                  steps: int,
                  warmup: int,
                  options: Optional[Sequence[List[str]]] = None) -> list:
    """Median step time (ms) of each config, steps interleaved A, B, A, B...

    Interleaving in one process exposes both models to the same machine load,
    which matters on shared CPUs. ``options``: the ``--cfg-options`` of each
    config.
    """
    options = options or [[] for _ in configs]
    runs = [
        _prepare(c, device, batch, size, o) for c, o in zip(configs, options)
    ]
    times = [[] for _ in configs]
    for step in range(warmup + steps):
        for run, record in zip(runs, times):
            elapsed = _train_step(*run, device)
            if step >= warmup:
                record.append(elapsed)
    return [statistics.median(t) for t in times]


def _pair_options(args) -> dict:
    """Each model's options: the shared ones, plus the Core-tuning-only ones
    for the Core-tuning model; malformed ones are refused here, not in a
    subprocess."""
    shared = list(args.cfg_options or [])
    core_only = list(getattr(args, 'core_cfg_options', None) or [])
    parse_options(shared)
    parse_options(core_only, '--core-cfg-options')
    return dict(ce=shared, core=shared + core_only)


def _record_options(report: dict, options: dict) -> None:
    """Write the options a pair ran with into its report."""
    shared, core_only = options['ce'], options['core'][len(options['ce']):]
    if shared:
        report['cfg_options'] = shared
    if core_only:
        report['core_cfg_options'] = core_only


def run_pair(args) -> dict:
    options = _pair_options(args)
    results = {}
    for name, config in (('ce', args.ce_config), ('core', args.core_config)):
        # each model in its own process: peak RSS is per process on the CPU
        cmd = [
            sys.executable, __file__, 'memory', config, '--device',
            args.device, '--batch',
            str(args.batch), '--size',
            str(args.size), '--steps',
            str(args.warmup + 1)
        ]
        if options[name]:
            cmd += ['--cfg-options', *options[name]]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if out.returncode != 0:
            last = (out.stderr.strip().splitlines() or ['(no output)'])[-1]
            raise SystemExit(
                f'{config}: building or training it with the options '
                f'{options[name]} failed: {last} (--cfg-options apply to '
                'both configs, --core-cfg-options to the Core-tuning one)')
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ce_ms, core_ms = measure_times([args.ce_config, args.core_config],
                                   args.device, args.batch, args.size,
                                   args.steps, args.warmup,
                                   [options['ce'], options['core']])
    results['ce']['step_ms'], results['core']['step_ms'] = ce_ms, core_ms
    report = dict(
        device=_device_name(args.device),
        batch=args.batch,
        size=args.size,
        steps=args.steps,
        ce=results['ce'],
        core=results['core'],
        step_time_ratio=core_ms / ce_ms,
        peak_memory_ratio=results['core']['peak_mb'] /
        results['ce']['peak_mb'])
    _record_options(report, options)
    if not args.device.startswith('cuda'):
        report['note'] = ('CPU run at reduced resolution; peak memory is the '
                          "process's peak RSS")
    print(f"{'':6} {'step ms':>10} {'peak MiB':>10}   "
          f'({report["device"]}, batch {args.batch}, {args.size} px, '
          f'median of {args.steps} interleaved steps)')
    for name in ('ce', 'core'):
        print(f"{name:6} {results[name]['step_ms']:10.1f} "
              f"{results[name]['peak_mb']:10.1f}   {results[name]['config']}")
    print(f"{'ratio':6} {report['step_time_ratio']:10.3f} "
          f"{report['peak_memory_ratio']:10.3f}")
    return report


# the profiler's names of matrix products (their own time: a matmul that
# dispatches to mm is counted once)
MATRIX_PRODUCTS = ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm',
                   'aten::addbmm')


def _profiled_ms(run, device: str, steps: int, warmup: int) -> dict:
    """Own time per training step (ms) of each operator, over ``steps``
    profiled steps after ``warmup``."""
    from torch.profiler import ProfilerActivity, profile
    for _ in range(warmup):
        _train_step(*run, device)
    activities = [ProfilerActivity.CPU]
    if device.startswith('cuda'):
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            _train_step(*run, device)
    attribute = 'self_device_time_total' if device.startswith('cuda') \
        else 'self_cpu_time_total'
    return {
        event.key: getattr(event, attribute) / 1000 / steps
        for event in prof.key_averages()
    }


def run_profile(args) -> dict:
    options = _pair_options(args)
    own = {}
    for name, config in (('ce', args.ce_config), ('core', args.core_config)):
        run = _prepare(config, args.device, args.batch, args.size,
                       options[name])
        own[name] = _profiled_ms(run, args.device, args.steps, args.warmup)
    keys = set(own['ce']) | set(own['core'])
    added = sorted(
        ((own['core'].get(k, 0.0) - own['ce'].get(k, 0.0), k) for k in keys),
        reverse=True)
    step = {name: sum(times.values()) for name, times in own.items()}
    products = {
        name: sum(times.get(k, 0.0) for k in MATRIX_PRODUCTS)
        for name, times in own.items()
    }
    added_products = products['core'] - products['ce']
    report = dict(
        device=_device_name(args.device),
        batch=args.batch,
        size=args.size,
        steps=args.steps,
        ce=dict(config=args.ce_config, profiled_step_ms=step['ce']),
        core=dict(config=args.core_config, profiled_step_ms=step['core']),
        added_ms=step['core'] - step['ce'],
        added_matrix_products_ms=added_products,
        added_matrix_products_share_of_ce_step=added_products / step['ce'],
        top_added=[dict(op=k, added_ms=ms) for ms, k in added[:args.top]])
    _record_options(report, options)
    print(f'{report["device"]}, batch {args.batch}, {args.size} px, own '
          f'time per step over {args.steps} profiled steps (ms; the '
          "profiler's overhead included)")
    print(f"CE step {step['ce']:.1f}, Core-tuning step {step['core']:.1f}, "
          f"added {report['added_ms']:.1f}, of which matrix products "
          f'{added_products:.1f} ({added_products / step["ce"]:.1%} of the '
          'CE step)')
    for row in report['top_added']:
        print(f"  {row['added_ms']:8.1f}  {row['op']}")
    return report


def _naive_focal_supcon(z, labels, temperature=0.07, gamma=1.0):
    """Per-anchor loop; the same loss as focal_supcon_loss('all')."""
    total, anchors = z.new_zeros(()), 0
    num = z.size(0)
    for i in range(num):
        logits = z @ z[i] / temperature
        others = torch.arange(num, device=z.device) != i
        log_prob = logits - torch.logsumexp(logits[others], dim=0)
        positive = (labels == labels[i]) & others
        if positive.any():
            p = log_prob[positive]
            total = total - ((1 - p.exp())**gamma * p).sum() / num
            anchors += 1
    return total / max(anchors, 1)


def run_scaling(args) -> dict:
    from coretune_mm.core import focal_supcon_loss, hard_pair_mixup
    rows = []
    for num in args.sizes:
        row = dict(M=num)
        for name, loss_fn in (('vectorised', focal_supcon_loss),
                              ('naive', _naive_focal_supcon)):
            if name == 'naive' and num > args.naive_max:
                continue
            features = torch.randn(
                num, 512, device=args.device, requires_grad=True)
            labels = torch.randint(21, (num, ), device=args.device)
            times = []
            if args.device.startswith('cuda'):
                torch.cuda.reset_peak_memory_stats()
            for step in range(args.warmup + args.steps):
                _sync(args.device)
                start = time.perf_counter()
                mixed, targets = hard_pair_mixup(
                    features,
                    F.one_hot(labels, 21).float(),
                    generator=torch.Generator(
                        device=features.device).manual_seed(step))
                loss = loss_fn(
                    F.normalize(mixed[:, :256], dim=1), targets.argmax(dim=1))
                loss.backward()
                _sync(args.device)
                if step >= args.warmup:
                    times.append((time.perf_counter() - start) * 1000)
            row[f'{name}_ms'] = statistics.median(times)
            if args.device.startswith('cuda'):
                row[f'{name}_peak_mb'] = torch.cuda.max_memory_allocated(
                ) / 2**20
        rows.append(row)
        print(json.dumps(row), flush=True)
    return dict(device=_device_name(args.device), rows=rows)


def _device_name(device: str) -> str:
    if device.startswith('cuda'):
        return torch.cuda.get_device_name(device)
    return f'cpu ({torch.get_num_threads()} threads)'


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='mode', required=True)
    for mode in ('pair', 'profile', 'memory'):
        p = sub.add_parser(mode)
        if mode in ('pair', 'profile'):
            p.add_argument('ce_config')
            p.add_argument('core_config')
        else:
            p.add_argument('config')
        p.add_argument('--device', default='cpu')
        p.add_argument('--batch', type=int, default=8)
        p.add_argument('--size', type=int, default=64)
        p.add_argument('--steps', type=int, default=10)
        p.add_argument('--warmup', type=int, default=2)
        p.add_argument(
            '--cfg-options',
            nargs='+',
            default=[],
            help='override settings of both configs, key=value, as '
            'tools/train.py reads them (e.g. model.backbone.depth=18)')
        if mode == 'profile':
            p.add_argument(
                '--top',
                type=int,
                default=15,
                help='operators listed, most added time first')
        if mode in ('pair', 'profile'):
            p.add_argument(
                '--core-cfg-options',
                nargs='+',
                default=[],
                help='override settings of the Core-tuning config only '
                '(e.g. model.decode_head.pixel_sampler.max_samples=512)')
        p.add_argument('--json', help='also write the report here')
    p = sub.add_parser('scaling')
    p.add_argument('--device', default='cpu')
    p.add_argument(
        '--sizes',
        type=int,
        nargs='+',
        default=[256, 512, 1024, 2048, 4096, 8192])
    p.add_argument('--naive-max', type=int, default=1024)
    p.add_argument('--steps', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--json', help='also write the report here')
    args = parser.parse_args(argv)
    if args.mode == 'memory':
        report = measure_memory(args.config, args.device, args.batch,
                                args.size, args.steps, args.cfg_options)
        print(json.dumps(report))
        return report
    runs = dict(pair=run_pair, profile=run_profile, scaling=run_scaling)
    report = runs[args.mode](args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    main()
