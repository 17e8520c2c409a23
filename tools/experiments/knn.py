"""Weighted k-nearest-neighbour probe of frozen features."""
import torch
import torch.nn.functional as F

__all__ = ['knn_accuracy']


def knn_accuracy(train_features: torch.Tensor,
                 train_labels: torch.Tensor,
                 test_features: torch.Tensor,
                 test_labels: torch.Tensor,
                 k: int = 20,
                 temperature: float = 0.07,
                 chunk: int = 1024) -> float:
    """Top-1 (%) of a cosine k-NN classifier with ``exp(s / T)`` votes.

    The probe of instance-discrimination papers (Wu et al., 2018): each test
    feature takes the k most cosine-similar training features; each votes
    for its label with weight ``exp(similarity / temperature)``.

    Args:
        train_features (Tensor): (N, D) features of labelled samples.
        train_labels (Tensor): (N, ) their classes.
        test_features (Tensor): (M, D) features to classify.
        test_labels (Tensor): (M, ) their classes.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk (int): Test rows per similarity block. Defaults to 1024.

    Returns:
        float: accuracy in percent.
    """
    if not 0 < k <= train_features.size(0):
        raise ValueError(f'k must lie in [1, {train_features.size(0)}], '
                         f'got {k}')
    train = F.normalize(train_features.float(), dim=1)
    test = F.normalize(test_features.float(), dim=1)
    train_labels = train_labels.to(train.device).long()
    num_classes = int(train_labels.max()) + 1
    correct = 0
    for start in range(0, test.size(0), chunk):
        similarity = test[start:start + chunk] @ train.t()
        top_sim, top_idx = similarity.topk(k, dim=1)
        votes = top_sim.new_zeros(top_sim.size(0), num_classes)
        votes.scatter_add_(1, train_labels[top_idx],
                           (top_sim / temperature).exp())
        truth = test_labels[start:start + chunk].to(votes.device).long()
        correct += int((votes.argmax(dim=1) == truth).sum())
    return 100.0 * correct / max(test.size(0), 1)
