"""Loading MMEngine checkpoints with torch's ``weights_only`` unpickler.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
refuses the non-tensor state that MMEngine saves next to the weights (the
MessageHub's ``HistoryBuffer`` and the numpy arrays and scalars inside it), so
``--resume`` and ``load_from`` fail on MMEngine's own checkpoints. Rather than
turning the safe unpickler off, allow exactly those types (numpy's under both
``numpy.core`` and numpy 2's ``numpy._core``), plus a ``getattr`` restricted
to what ``HistoryBuffer`` pickles (its statistics methods, stored as
``getattr(HistoryBuffer, name)``).

``HistoryBuffer.__setstate__`` merges the pickled statistics methods into
the class-level table that every buffer of the process uses, so a crafted
file could make ``'mean'`` compute a maximum. Under the safe unpickler a
buffer is therefore rebuilt by :class:`_LoadedHistoryBuffer`, which keeps
the process's own table and leaves a plain ``HistoryBuffer``.
"""
import importlib
import os.path as osp
import zipfile
from typing import List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'register_checkpoint_safe_globals',
    'check_checkpoint_file', 'read_checkpoint', 'state_dict_of', 'tensors_of'
]

_HISTORY_BUFFER = f'{HistoryBuffer.__module__}.{HistoryBuffer.__qualname__}'


class _LoadedHistoryBuffer(HistoryBuffer):
    """What the safe unpickler builds for a pickled ``HistoryBuffer``."""

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.pop('statistics_methods', None)  # the process's own table
        self._set_default_statistics()
        self.__dict__.update(state)
        self.__class__ = HistoryBuffer


def _history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` limited to the public methods of HistoryBuffer."""
    public_method = not name.startswith('_') and callable(
        vars(HistoryBuffer).get(name))
    if obj not in (HistoryBuffer, _LoadedHistoryBuffer) or not public_method:
        raise RuntimeError(
            f'checkpoint asks for getattr({obj!r}, {name!r}); only the '
            'public methods of mmengine HistoryBuffer are allowed')
    return getattr(HistoryBuffer, name)


def _checkpoint_safe_globals() -> list:
    # numpy 2 keeps it in numpy._core (its numpy.core warns on access)
    major = int(np.__version__.split('.')[0])
    multiarray = importlib.import_module('numpy._core.multiarray' if major >=
                                         2 else 'numpy.core.multiarray')
    dtype_classes = [
        obj for obj in vars(np.dtypes).values()
        if isinstance(obj, type) and issubclass(obj, np.dtype)
    ]
    numpy_functions = [(function, f'{module}.multiarray.{function.__name__}')
                       for function in (multiarray._reconstruct,
                                        multiarray.scalar)
                       for module in ('numpy.core', 'numpy._core')]
    return [(_LoadedHistoryBuffer, _HISTORY_BUFFER), *numpy_functions,
            np.ndarray, np.dtype, *dtype_classes,
            (_history_buffer_getattr, 'builtins.getattr'),
            (_history_buffer_getattr, '__builtin__.getattr')]


CHECKPOINT_SAFE_GLOBALS = _checkpoint_safe_globals()


def register_checkpoint_safe_globals() -> None:
    """Allow MMEngine's checkpoint metadata in ``torch.load``."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:  # torch < 2.4 loads everything anyway
        add_safe_globals(CHECKPOINT_SAFE_GLOBALS)


def read_checkpoint(path: str, option: str, mmap: bool = False) -> object:
    """``torch.load`` with the safe unpickler; errors name ``option``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: truncated, not a torch file, or content the safe
            unpickler refuses (its first line of explanation).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{option}: no such file {path!r}')
    try:
        return torch.load(
            path, map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as err:  # truncated, not a torch file, unsafe content
        first_line = (str(err).strip().splitlines() or [''])[0]
        raise ValueError(f'{option}: cannot read {path!r} as a torch '
                         f'checkpoint ({type(err).__name__}: '
                         f'{first_line})') from None


# where checkpoints keep their tensors: MMEngine, torchvision-style
# releases and the official MoCo files use `state_dict`; DeiT/MAE-style
# releases `model`
CONTAINERS = ('state_dict', 'model')


def tensors_of(checkpoint: object, container: Optional[str] = None) -> dict:
    """The dict of tensors inside a loaded checkpoint, unchecked.

    Args:
        checkpoint: What ``torch.load`` returned.
        container (str, optional): The key that holds them (``{}`` when
            absent); by default the first of :data:`CONTAINERS` that holds
            a dict, else the checkpoint itself.
    """
    if not isinstance(checkpoint, dict):
        return checkpoint
    if container is not None:
        return checkpoint.get(container) or {}
    for key in CONTAINERS:
        if isinstance(checkpoint.get(key), dict):
            return checkpoint[key]
    return checkpoint


def state_dict_of(checkpoint: object, path: str, option: str) -> dict:
    """The checkpoint's tensors (:func:`tensors_of`); ValueError naming
    ``option`` when it holds none."""
    state = tensors_of(checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{option}: {path!r} holds no state_dict of '
                         'tensors')
    return state


def check_checkpoint_file(path: str, option: str) -> List[str]:
    """Fail early, naming ``option``, when ``path`` is not a readable torch
    checkpoint holding tensors. Zip-format files are memory-mapped, so the
    tensors are not read.

    Returns:
        list[str]: the keys of its state dict.
    """
    checkpoint = read_checkpoint(
        path,
        option,
        mmap=zipfile.is_zipfile(path) if osp.isfile(path) else False)
    return list(state_dict_of(checkpoint, path, option))
