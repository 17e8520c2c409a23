"""Loading MMEngine checkpoints with torch's ``weights_only`` unpickler.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
refuses the non-tensor state that MMEngine saves next to the weights (the
MessageHub's ``HistoryBuffer`` and the numpy arrays and scalars inside it), so
``--resume`` and ``load_from`` fail on MMEngine's own checkpoints. Rather than
turning the safe unpickler off, allow exactly those types, plus a
``getattr`` restricted to what ``HistoryBuffer`` pickles (its statistics
methods, stored as ``getattr(HistoryBuffer, name)``).
"""
import numpy as np
import torch

__all__ = ['CHECKPOINT_SAFE_GLOBALS', 'register_checkpoint_safe_globals']


from mmengine.logging import HistoryBuffer


def _history_buffer_getattr(obj: object, name: str) -> object:
    """``getattr`` limited to the public methods of HistoryBuffer."""
    public_method = not name.startswith('_') and callable(
        vars(HistoryBuffer).get(name))
    if obj is not HistoryBuffer or not public_method:
        raise RuntimeError(
            f'checkpoint asks for getattr({obj!r}, {name!r}); only the '
            'public methods of mmengine HistoryBuffer are allowed')
    return getattr(obj, name)


def _checkpoint_safe_globals() -> list:
    multiarray = np.core.multiarray
    dtype_classes = [
        obj for obj in vars(np.dtypes).values()
        if isinstance(obj, type) and issubclass(obj, np.dtype)
    ]
    return [
        HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray,
        np.dtype, *dtype_classes,
        (_history_buffer_getattr, 'builtins.getattr'),
        (_history_buffer_getattr, '__builtin__.getattr')
    ]


CHECKPOINT_SAFE_GLOBALS = _checkpoint_safe_globals()


def register_checkpoint_safe_globals() -> None:
    """Allow MMEngine's checkpoint metadata in ``torch.load``."""
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:  # torch < 2.4 loads everything anyway
        add_safe_globals(CHECKPOINT_SAFE_GLOBALS)
