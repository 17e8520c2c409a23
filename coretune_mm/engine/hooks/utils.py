"""Helpers shared by the hooks."""
import torch.nn as nn
from mmengine.model import is_model_wrapper

__all__ = ['unwrap', 'find_head']


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DDP / FSDP wrappers."""
    return model.module if is_model_wrapper(model) else model


def find_head(model: nn.Module) -> nn.Module:
    """The classifier head (MMPretrain) or decode head (MMSegmentation)."""
    model = unwrap(model)
    for name in ('head', 'decode_head'):
        head = getattr(model, name, None)
        if isinstance(head, nn.Module):
            return head
    raise ValueError(f'{type(model).__name__} has neither `head` nor '
                     '`decode_head`')
