"""Multi-process training through MMEngine's Runner on machines without GPU.

MMEngine 0.10's ``init_dist`` for the ``pytorch`` launcher calls
``torch.cuda.set_device`` and its ``Runner.wrap_model`` passes
``device_ids=[LOCAL_RANK]`` to DDP, so ``--launcher pytorch`` fails on a
CPU-only machine whatever ``env_cfg.dist_cfg.backend`` says.
:func:`setup_cpu_distributed` (called by ``tools/train.py`` and
``tools/test.py``) initialises a gloo process group before the Runner, which
then skips ``init_dist``, and selects :class:`CPUDistributedDataParallel`.
"""
import contextlib
import datetime
from typing import Iterator

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS

__all__ = [
    'CPUDistributedDataParallel', 'setup_cpu_distributed', 'cpu_distributed'
]


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """:class:`MMDistributedDataParallel` that also wraps a model on the CPU.

    For a CPU model the ``device_ids`` MMEngine passes are dropped (DDP
    refuses them for CPU modules) and SyncBN layers, which synchronise on
    GPUs only, become BatchNorm layers (batch statistics per process). A
    model on a GPU is wrapped exactly as by the parent class.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            device_ids = None
            module = revert_sync_batchnorm(module)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare ``cfg.launcher == 'pytorch'`` runs on a machine without GPU.

    Initialises the default process group with gloo (``env://``, as set by
    ``torchrun``; a configured ``nccl`` backend is replaced, with a log
    line) and makes the model wrapper :class:`CPUDistributedDataParallel`.
    Does nothing when a GPU is present, for other launchers or when the
    process group already exists.

    Returns:
        bool: whether it initialised the process group.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or \
            torch.cuda.is_available() or dist.is_initialized():
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    backend = dist_cfg.get('backend', 'gloo')
    if backend != 'gloo':
        print_log(
            f'env_cfg.dist_cfg.backend={backend!r} needs GPUs; none is '
            "present, so the run uses 'gloo'.",
            logger='current')
        dist_cfg['backend'] = 'gloo'
    timeout = dist_cfg.get('timeout', 1800)
    dist.init_process_group(
        backend='gloo', timeout=datetime.timedelta(seconds=timeout))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    if wrapper.get(
            'type',
            'MMDistributedDataParallel') in ('MMDistributedDataParallel',
                                             MMDistributedDataParallel):
        wrapper['type'] = 'CPUDistributedDataParallel'
        wrapper.setdefault('broadcast_buffers', False)
        wrapper.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', False))
        cfg.model_wrapper_cfg = wrapper
    return True


@contextlib.contextmanager
def cpu_distributed(cfg: Config) -> Iterator[bool]:
    """:func:`setup_cpu_distributed` for the block; the process group it
    started is closed at the end (after a barrier when the block succeeded), so
    that no rank exits while another still uses it."""
    started = setup_cpu_distributed(cfg)
    try:
        yield started
    except BaseException:
        if started:
            dist.destroy_process_group()
        raise
    if started:
        dist.barrier()
        dist.destroy_process_group()
