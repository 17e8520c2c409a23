"""tools/experiments/knn.py: the k-NN probe against a per-query loop."""
import math

import pytest
import torch
import torch.nn.functional as F
from tool_runs import load_tool


def knn_accuracy(*args, **kwargs):
    return load_tool('experiments/knn.py').knn_accuracy(*args, **kwargs)


def slow_knn(train, train_labels, test, test_labels, k, temperature):
    correct = 0
    for x, y in zip(test, test_labels):
        sims = [float(F.cosine_similarity(x, t, dim=0)) for t in train]
        order = sorted(range(len(sims)), key=lambda i: -sims[i])[:k]
        votes = {}
        for i in order:
            label = int(train_labels[i])
            votes[label] = votes.get(label, 0.0) + math.exp(
                sims[i] / temperature)
        correct += max(votes, key=votes.get) == int(y)
    return 100.0 * correct / len(test)


@pytest.mark.parametrize('k', [1, 5])
def test_against_a_loop(k):
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(
        40, 6, generator=g), torch.randn(
            25, 6, generator=g)
    train_labels = torch.randint(4, (40, ), generator=g)
    test_labels = torch.randint(4, (25, ), generator=g)
    got = knn_accuracy(
        train, train_labels, test, test_labels, k=k, temperature=0.5, chunk=7)
    assert got == pytest.approx(
        slow_knn(train, train_labels, test, test_labels, k, 0.5))


def test_separable_and_bad_k():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    assert knn_accuracy(train, labels, train, labels, k=2) == 100.0
    with pytest.raises(ValueError, match='k must'):
        knn_accuracy(train, labels, train, labels, k=5)


def test_makes_no_tensor_on_a_default_device():
    """Every tensor the probe creates follows the features' device (with CUDA
    features, a vote tensor made by ``torch.zeros`` without a device lands on
    the CPU)."""
    from torch.overrides import TorchFunctionMode
    factories = {
        torch.zeros, torch.ones, torch.empty, torch.full, torch.arange,
        torch.tensor, torch.eye, torch.rand, torch.randn, torch.randint,
        torch.linspace, torch.as_tensor
    }

    class DefaultDevice(TorchFunctionMode):

        def __init__(self):
            super().__init__()
            self.calls = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in factories and kwargs.get('device') is None:
                self.calls.append(func.__name__)
            return func(*args, **kwargs)

    g = torch.Generator().manual_seed(0)
    train = torch.randn(30, 6, generator=g)
    test = torch.randn(9, 6, generator=g)
    labels = torch.randint(3, (30, ), generator=g)
    with DefaultDevice() as mode:
        knn_accuracy(train, labels, test, labels[:9], k=4, chunk=4)
    assert mode.calls == []
