"""One accelerator check: precisions, resume, overhead and scaling on a GPU.

Each part runs under its own time limit and records what it measured or the
error that stopped it, so one failing part does not hide the others; the
whole result is one JSON file and a printed summary (the GPU rows of
``docs/results.md``). ``tools/gpu_check.sh`` installs what a bare machine
lacks and calls this script; ``--dry-run`` runs the same parts on the CPU at
tiny sizes, with the configs' backbones cut to ResNet-18 and narrower heads
(CI runs it, so the check cannot rot)::

    python tools/analysis_tools/device_check.py --out check.json
    python tools/analysis_tools/device_check.py --dry-run --out check.json

Parts:
    precision: the Core-tuning classifier (ResNet-50) and segmenter
        (DeepLab-V3) for a few training steps in fp32, fp16 and bf16
        (MMEngine's ``AmpOptimWrapper`` on a GPU), from the same weights on
        the same batch: every loss finite; with the choices Core-tuning
        makes from feature values fixed (mined hard positives, hard
        pixels), the first step's fp16/bf16 loss within a tolerance of
        fp32's, widened by twice the CE model's own drift; on a GPU, host
        synchronisations per step counted under
        ``torch.cuda.set_sync_debug_mode('warn')``: Core-tuning may add at
        most ``SYNC_LIMIT`` to CE's.
    resume: the digits demo classifier through MMEngine's Runner, stopped
        after one epoch and resumed on the device (the checkpoint is loaded
        onto it), against the uninterrupted run: the same iterations and the
        same weights (within the device's own run-to-run difference).
    overhead: ``tools/analysis_tools/benchmark.py pair`` at full size
        (ResNet-50 224 px batch 64, DeepLab-V3 512 px batch 4): step-time
        and peak-memory ratios (timed without the sync debug mode, whose
        warnings cost time of their own; the precision part counts the
        same training steps' synchronisations).
    scaling: ``tools/analysis_tools/benchmark.py scaling``, the contrast's
        cost in M.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import signal
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark as bench  # the overhead pairs and the scaling table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLS = 'configs/resnet50_mocov2-pre_{}_1xb64-accum4-coslr-100e_cifar10.py'
SEG = 'configs/deeplabv3_r50_{}_voc.py'
DEMO = 'configs/demo/resnet18_coretune_digits-folder.py'
PARTS = ('precision', 'resume', 'overhead', 'scaling')
# relative difference of the first step's loss from fp32's
TOLERANCE = dict(float16=0.02, bfloat16=0.05)
# host synchronisations Core-tuning may add to CE's training step (fp32, the
# last step counted): none for the classifier; the label check and the data-
# sized pixel selection for the segmenter (as the CPU count in
# tests/test_models/test_host_syncs.py)
SYNC_LIMIT = dict(cls=0, seg=2)
# a resumed run's weights against the uninterrupted run's: at most this, or
# ten times the device's own run-to-run difference where that is larger
RESUME_TOLERANCE = 1e-6
FULL = dict(
    precision=dict(cls=(32, 128), seg=(4, 256), steps=5),
    overhead=dict(cls=(64, 224), seg=(4, 512), steps=20, warmup=5),
    scaling=dict(sizes=[256, 512, 1024, 2048, 4096, 8192], naive_max=2048),
    limits=dict(precision=120, resume=120, overhead=240, scaling=90))
# the dry run's models: the same configs and heads with a ResNet-18 (basic
# blocks) and narrow heads (minutes less on 2 CPU cores)
SMALL = dict(
    cls=['model.backbone.depth=18', 'model.head.in_channels=512'],
    seg=[
        'model.backbone.depth=18', 'model.decode_head.in_channels=512',
        'model.decode_head.channels=64',
        'model.auxiliary_head.in_channels=256',
        'model.auxiliary_head.channels=64'
    ])
DRY = dict(
    precision=dict(cls=(4, 32), seg=(2, 32), steps=2, options=SMALL),
    overhead=dict(cls=(4, 32), seg=(2, 32), steps=2, warmup=1, options=SMALL),
    scaling=dict(sizes=[64, 128], naive_max=64),
    limits=dict(precision=600, resume=300, overhead=300, scaling=120))


class PartTimeout(Exception):
    """A part ran past its time limit."""


@contextmanager
def time_limit(seconds: int):
    """Raise :class:`PartTimeout` in the main thread after ``seconds``."""

    def expire(signum, frame):
        raise PartTimeout(f'ran past its limit of {seconds} s')

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class SyncCounter:
    """Host synchronisations on a CUDA device, counted from the warnings of
    ``torch.cuda.set_sync_debug_mode('warn')``; ``None`` on the CPU."""

    def __init__(self, device: str):
        self.cuda = device.startswith('cuda')
        self.count: Optional[int] = None

    def __enter__(self):
        if self.cuda:
            self._catch = warnings.catch_warnings(record=True)
            self._records = self._catch.__enter__()
            warnings.simplefilter('always')
            torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode('warn')
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.set_sync_debug_mode('default')
            self.count = sum('synchroniz' in str(w.message)
                             for w in self._records)
            self._catch.__exit__(*exc)
        return False


def added_syncs(runs: Dict[str, dict]) -> Optional[int]:
    """Host synchronisations that Core-tuning adds to CE's training step.

    Args:
        runs: The precision part's runs by ``'<model>/<dtype>'``, each with
            its ``syncs`` per step.

    Returns:
        Core-tuning's minus CE's count in the last fp32 step, or ``None``
        where they were not counted (on the CPU).
    """
    ce = runs['ce/float32']['syncs'][-1]
    core = runs['coretune/float32']['syncs'][-1]
    return None if ce is None or core is None else core - ce


def optim_wrapper_for(model, dtype: str, device: str):
    """MMEngine's wrappers as a config builds them: ``AmpOptimWrapper`` for
    fp16/bf16 on a GPU; on the CPU (which MMEngine's AMP wrapper refuses) the
    plain wrapper under ``torch.autocast``."""
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    if dtype == 'float32':
        return OptimWrapper(optimizer), None
    if device.startswith('cuda'):
        return AmpOptimWrapper(
            optimizer=optimizer, dtype=getattr(torch, dtype)), None
    return OptimWrapper(optimizer), torch.autocast(
        'cpu', dtype=getattr(torch, dtype))


def train_steps(model, wrapper, autocast, inputs, samples, steps: int,
                device: str) -> Dict[str, list]:
    """``steps`` of what ``BaseModel.train_step`` does after the data
    preprocessor; the summed loss and the synchronisations of each step."""
    losses, syncs = [], []
    for _ in range(steps):
        with SyncCounter(device) as counter:
            with wrapper.optim_context(model):
                if autocast is not None:
                    with autocast:
                        out = model(inputs, samples, mode='loss')
                else:
                    out = model(inputs, samples, mode='loss')
            parsed, _ = model.parse_losses(out)
            wrapper.update_params(parsed)
        losses.append(float(parsed.detach()))
        syncs.append(counter.count)
    return dict(losses=losses, syncs=syncs)


def _fixed_choices(model):
    """A copy whose Core-tuning makes no choice from feature values: no
    mined hard positives and (segmentation) every pixel in the contrast.
    Low precision then changes only the arithmetic, not which samples are
    mixed, so its loss can be held to fp32's."""
    model = copy.deepcopy(model)
    head = getattr(model, 'head', None) or model.decode_head
    head.core_tuning.mixup = dict(head.core_tuning.mixup, hard_positives=False)
    if hasattr(head, 'pixel_sampler'):
        head.pixel_sampler = dict(head.pixel_sampler, max_samples=2**24)
    return model


def check_precision(device: str, sizes: dict) -> dict:
    """CE, Core-tuning as configured, and Core-tuning with its feature-driven
    choices fixed, each in fp32, fp16 and bf16: every loss finite,
    synchronisations per step; the fixed Core-tuning's first-step loss within a
    tolerance of its fp32 loss, widened by twice the CE model's own drift (the
    backbone's share)."""
    report = {}
    for task, pattern in (('cls', CLS), ('seg', SEG)):
        batch, size = sizes[task]
        runs = {}
        for method in ('ce', 'coretune'):
            config = osp.join(REPO, pattern.format(method))
            # one copy per run: the same weights and the same state of the
            # head's own random stream
            pristine, scope = bench._build(config, device,
                                           sizes.get('options', {}).get(task))
            inputs, samples = bench._batch(scope, pristine, batch, size,
                                           device)
            models = {method: pristine}
            if method == 'coretune':
                models['fixed'] = _fixed_choices(pristine)
            for name, model in models.items():
                for dtype in ['float32', *TOLERANCE]:
                    copy_ = copy.deepcopy(model)
                    wrapper, autocast = optim_wrapper_for(copy_, dtype, device)
                    runs[f'{name}/{dtype}'] = train_steps(
                        copy_, wrapper, autocast, inputs, samples,
                        sizes['steps'], device)
                    del copy_, wrapper
            del models, pristine

        def drift(name: str, dtype: str) -> float:
            fp32 = runs[f'{name}/float32']['losses'][0]
            first = runs[f'{name}/{dtype}']['losses'][0]
            return abs(first - fp32) / max(abs(fp32), 1e-12)

        checks = {}
        for dtype, tolerance in TOLERANCE.items():
            # a randomly initialised deep network on a small batch drifts by
            # itself (batch statistics of a few values): not the head's doing
            ce = drift('ce', dtype)
            checks[dtype] = dict(
                first_loss=runs[f'fixed/{dtype}']['losses'][0],
                relative_difference=drift('fixed', dtype),
                ce_relative_difference=ce,
                tolerance=tolerance + 2 * ce)
        finite = all(
            math.isfinite(v) for run in runs.values() for v in run['losses'])
        added = added_syncs(runs)
        syncs_ok = added is None or added <= SYNC_LIMIT[task]
        report[task] = dict(
            batch=batch,
            size=size,
            runs=runs,
            first_loss_float32=runs['fixed/float32']['losses'][0],
            precisions=checks,
            finite=finite,
            syncs_added=added,
            sync_limit=SYNC_LIMIT[task],
            passed=finite and syncs_ok
            and all(c['relative_difference'] <= c['tolerance']
                    for c in checks.values()))
    return report


def _demo_cfg(data: str, work_dir: str, stop_after: Optional[int] = None):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, DEMO))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data
        cfg[loader].num_workers = 0
        cfg[loader].batch_size = 8
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    cfg.train_cfg.update(max_epochs=2, val_interval=1)
    cfg.param_scheduler.T_max = 2
    cfg.randomness = dict(seed=0)
    cfg.default_hooks.checkpoint.save_best = None
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if h['type'] != 'FeatureSpaceHook'
    ]
    if stop_after:
        cfg.custom_hooks.append(
            dict(type='StopTrainingHook', after_epoch=stop_after))
    return cfg


def _register_stop_hook():
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    if 'StopTrainingHook' in HOOKS.module_dict:
        return

    @HOOKS.register_module()
    class StopTrainingHook(Hook):
        """Stop after an epoch, once its checkpoint is written."""
        priority = 'LOWEST'

        def __init__(self, after_epoch: int):
            self.after_epoch = after_epoch

        def after_train_epoch(self, runner):
            if runner.epoch + 1 >= self.after_epoch:
                runner.train_loop.stop_training = True


def check_resume(device: str, sizes: dict) -> dict:
    """Interrupted after epoch 1 and resumed (MMEngine loads the checkpoint
    onto the run's device), against the uninterrupted run; on a GPU the
    uninterrupted run is repeated to measure the device's own run-to-run
    difference (non-deterministic kernels), which widens the tolerance."""
    from mmengine.runner import Runner

    import coretune_mm  # noqa: F401
    from coretune_mm.datasets.demo_data import make_digits_folder
    _register_stop_hook()
    with tempfile.TemporaryDirectory() as root:
        data = make_digits_folder(osp.join(root, 'digits'), limit=60)
        whole = Runner.from_cfg(_demo_cfg(data, osp.join(root, 'whole')))
        whole.train()
        first = Runner.from_cfg(
            _demo_cfg(data, osp.join(root, 'parts'), stop_after=1))
        first.train()
        cfg = _demo_cfg(data, osp.join(root, 'parts'))
        cfg.resume = True
        cfg.load_from = osp.join(root, 'parts', 'epoch_1.pth')
        cfg.experiment_name += '_resumed'
        resumed = Runner.from_cfg(cfg)
        resumed.train()
        difference = _max_difference(whole.model, resumed.model)
        noise = 0.0
        if device.startswith('cuda'):
            again = Runner.from_cfg(_demo_cfg(data, osp.join(root, 'again')))
            again.train()
            noise = _max_difference(whole.model, again.model)
        tolerance = max(10 * noise, RESUME_TOLERANCE)
        return dict(
            device=str(next(resumed.model.parameters()).device),
            stopped_at_epoch=first.epoch,
            resumed_to=dict(epoch=resumed.epoch, iter=resumed.iter),
            uninterrupted=dict(epoch=whole.epoch, iter=whole.iter),
            max_weight_difference=difference,
            run_to_run_difference=noise,
            tolerance=tolerance,
            passed=(resumed.iter == whole.iter and first.epoch == 1
                    and difference <= tolerance))


def _max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """The largest absolute difference between two models' states.

    Args:
        a: The reference model.
        b: A model with the same state keys.

    Returns:
        The maximum over all non-empty tensors of ``|b - a|``.
    """
    expected, got = a.state_dict(), b.state_dict()
    return max(
        float((got[k].double() - v.double()).abs().max())
        for k, v in expected.items() if v.numel())


def check_overhead(device: str, sizes: dict) -> dict:
    report = {}
    for task, pattern in (('cls', CLS), ('seg', SEG)):
        batch, size = sizes[task]
        args = argparse.Namespace(
            ce_config=osp.join(REPO, pattern.format('ce')),
            core_config=osp.join(REPO, pattern.format('coretune')),
            device=device,
            batch=batch,
            size=size,
            steps=sizes['steps'],
            warmup=sizes['warmup'],
            cfg_options=sizes.get('options', {}).get(task, []))
        report[task] = bench.run_pair(args)
    return report


def check_scaling(device: str, sizes: dict) -> dict:
    return bench.run_scaling(
        argparse.Namespace(
            device=device,
            sizes=sizes['sizes'],
            naive_max=sizes['naive_max'],
            steps=3,
            warmup=1))


CHECKS: Dict[str, Callable[[str, dict], dict]] = dict(
    precision=check_precision,
    resume=check_resume,
    overhead=check_overhead,
    scaling=check_scaling)


def environment(device: str) -> dict:
    import numpy
    env = dict(
        python=platform.python_version(),
        torch=torch.__version__,
        numpy=numpy.__version__,
        device=device,
        device_name=(torch.cuda.get_device_name(device)
                     if device.startswith('cuda') else platform.processor()
                     or 'cpu'))
    for name in ('mmcv', 'mmengine', 'mmpretrain', 'mmseg'):
        try:
            env[name] = __import__(name).__version__
        except Exception as error:  # reported, not fatal
            env[name] = f'not importable: {error}'
    if os.environ.get('CORETUNE_INSTALL_SECONDS'):
        env['install_seconds'] = float(os.environ['CORETUNE_INSTALL_SECONDS'])
    return env


def _part_lines(part: str, result: dict) -> List[str]:
    """The summary lines of one finished part."""
    lines = []
    if part == 'precision':
        for task, r in result.items():
            if not isinstance(r, dict) or 'precisions' not in r:
                continue
            diffs = ', '.join(f'{d} {c["relative_difference"]:.2e}'
                              for d, c in r['precisions'].items())
            syncs = {k: v['syncs'][-1] for k, v in r['runs'].items()}
            lines.append(f'precision {task}: passed={r["passed"]}, '
                         f'first-step loss vs fp32: {diffs}; '
                         f'syncs in the last step: {syncs}, added by '
                         f'Core-tuning: {r.get("syncs_added")} (at most '
                         f'{r.get("sync_limit")})')
    elif part == 'resume':
        lines.append(f'resume on {result["device"]}: '
                     f'passed={result["passed"]}, max weight difference '
                     f'{result["max_weight_difference"]:.2e} (tolerance '
                     f'{result.get("tolerance", float("nan")):.0e})')
    elif part == 'overhead':
        for task, r in result.items():
            if isinstance(r, dict) and 'step_time_ratio' in r:
                lines.append(
                    f'overhead {task} (batch {r["batch"]}, {r["size"]} '
                    f'px): step time x{r["step_time_ratio"]:.3f}, peak '
                    f'memory x{r["peak_memory_ratio"]:.3f}')
    elif part == 'scaling':
        rows = ', '.join(f'M={r["M"]}: {r["vectorised_ms"]:.2f} ms'
                         for r in result['rows'])
        lines.append(f'scaling: {rows}')
    return lines


def summary(report: dict) -> List[str]:
    env = report['environment']
    lines = [
        f"{env['device_name']}: torch {env['torch']}, mmcv {env.get('mmcv')}"
    ]
    for part, result in report['parts'].items():
        if 'error' in result:
            lines.append(f'{part}: FAILED after {result["seconds"]:.0f} s: '
                         f'{result["error"]}')
            continue
        try:
            lines += _part_lines(part, result)
        except (KeyError, TypeError) as error:  # the JSON holds it all
            lines.append(f'{part}: done; no summary ({error!r}), see JSON')
    return lines


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='the same parts on the CPU at tiny sizes')
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=PARTS)
    parser.add_argument(
        '--out',
        default=osp.join(REPO, 'work_dirs', 'device_check',
                         'device_check.json'))
    parser.add_argument(
        '--time-scale',
        type=float,
        default=1.0,
        help='multiply every part\'s time limit')
    parser.add_argument(
        '--budget',
        type=float,
        help='seconds for the whole check: a part gets at most what is left '
        '(its JSON is written after each part, so a kill loses one part)')
    args = parser.parse_args(argv)
    deadline = None if args.budget is None else time.time() + args.budget
    if args.dry_run:
        device, plan = 'cpu', DRY
    else:
        if not torch.cuda.is_available():
            parser.error('no CUDA device: use --dry-run for the CPU check')
        device, plan = 'cuda', FULL
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    sys.path.insert(0, REPO)
    report = dict(environment=environment(device), parts={})
    for part in args.parts:
        limit = int(plan['limits'][part] * args.time_scale)
        if deadline is not None:
            limit = min(limit, int(deadline - time.time()))
        start = time.time()
        if limit < 1:
            report['parts'][part] = dict(
                error='skipped: no time left in --budget', seconds=0.0)
            continue
        try:
            with time_limit(limit):
                result = CHECKS[part](device, plan.get(part, {}))
        except Exception as error:  # recorded; the next part still runs
            result = dict(
                error=f'{type(error).__name__}: {error}',
                traceback=traceback.format_exc(limit=-8))
        result['seconds'] = time.time() - start
        report['parts'][part] = result
        with open(args.out, 'w') as f:  # what is done survives a kill
            json.dump(report, f, indent=2)
        print(f'{part}: {result["seconds"]:.0f} s', flush=True)
    lines = summary(report)
    print('\n'.join(lines))
    report['summary'] = lines
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
