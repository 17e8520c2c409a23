"""Small losses shared by the heads."""
import torch
import torch.nn.functional as F

__all__ = ['soft_cross_entropy']


def soft_cross_entropy(logits: torch.Tensor,
                       soft_labels: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``- sum_c y_c log softmax(logits)_c``, in float32.

    Args:
        logits (Tensor): (N, C).
        soft_labels (Tensor): (N, C), rows summing to 1.

    Returns:
        Tensor: scalar; 0 (attached to ``logits``) when N = 0.
    """
    if logits.size(0) == 0:
        return logits.float().sum() * 0.0
    log_prob = F.log_softmax(logits.float(), dim=1)
    return -(soft_labels.float() * log_prob).sum(dim=1).mean()
