"""Drop Core-tuning's training-only state from a checkpoint."""
__all__ = ['strip_core_tuning']


def strip_core_tuning(checkpoint: dict) -> dict:
    """Return ``{'state_dict': ..., 'meta': ...}`` without the tensors of
    :class:`~coretune_mm.core.CoreTuning` modules (``*.core_tuning.*``: the
    projection head), which only training uses. The result loads strictly
    into the stock head's model (``LinearClsHead``, ``ASPPHead``,
    ``DepthwiseSeparableASPPHead``)."""
    state = checkpoint.get('state_dict', checkpoint)
    kept = {k: v for k, v in state.items() if '.core_tuning.' not in f'.{k}'}
    return dict(state_dict=kept, meta=checkpoint.get('meta', {}))
