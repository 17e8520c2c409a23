"""SplitBatchNorm2d against batch norm applied to each sub-batch alone."""
import pytest
import torch
import torch.nn as nn

from coretune_mm.models.utils import SplitBatchNorm2d


def test_training_normalises_each_sub_batch_alone():
    torch.manual_seed(0)
    splits, channels = 4, 3
    x = torch.randn(16, channels, 5, 5) * 3 + 1
    split_bn = SplitBatchNorm2d(channels, num_splits=splits, momentum=0.1)
    nn.init.uniform_(split_bn.weight)
    nn.init.uniform_(split_bn.bias)
    out = split_bn(x)
    # the reference: one ordinary BatchNorm2d per sub-batch, same start
    members = [torch.arange(g, 16, splits) for g in range(splits)]
    means, variances = [], []
    for idx in members:
        bn = nn.BatchNorm2d(channels, momentum=0.1)
        bn.load_state_dict({
            k: v
            for k, v in split_bn.state_dict().items()
        },
                           strict=True)
        bn.running_mean.zero_()
        bn.running_var.fill_(1)
        expected = bn(x[idx])
        torch.testing.assert_close(out[idx], expected)
        means.append(bn.running_mean)
        variances.append(bn.running_var)
    torch.testing.assert_close(split_bn.running_mean,
                               torch.stack(means).mean(0))
    torch.testing.assert_close(split_bn.running_var,
                               torch.stack(variances).mean(0))
    assert int(split_bn.num_batches_tracked) == 1


def test_eval_and_state_dict_are_plain_batch_norm():
    split_bn = SplitBatchNorm2d(3, num_splits=2)
    split_bn(torch.randn(8, 3, 4, 4))
    split_bn.eval()
    bn = nn.BatchNorm2d(3)
    bn.load_state_dict(split_bn.state_dict())
    bn.eval()
    x = torch.randn(3, 3, 4, 4)
    torch.testing.assert_close(split_bn(x), bn(x))


def test_gradients_match_per_sub_batch_reference():
    torch.manual_seed(1)
    x = torch.randn(8, 2, 3, 3, requires_grad=True)
    split_bn = SplitBatchNorm2d(2, num_splits=2)
    split_bn(x).pow(2).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    bn = nn.BatchNorm2d(2)
    total = sum(
        bn(x_ref[torch.arange(g, 8, 2)]).pow(2).sum() for g in range(2))
    total.backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(split_bn.weight.grad, bn.weight.grad)


def test_bad_batch_and_option():
    with pytest.raises(ValueError, match='num_splits'):
        SplitBatchNorm2d(3, num_splits=0)
    with pytest.raises(ValueError, match='multiple of num_splits=4'):
        SplitBatchNorm2d(3, num_splits=4)(torch.randn(6, 3, 2, 2))


def test_builds_from_norm_cfg_in_a_host_backbone():
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(
            dict(
                type='ResNet_CIFAR',
                depth=18,
                stem_channels=8,
                base_channels=8,
                norm_cfg=dict(type='SplitBatchNorm2d', num_splits=2)))
    assert isinstance(backbone.bn1, SplitBatchNorm2d)
    plain = MODELS.build(
        dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8))
    plain.load_state_dict(backbone.state_dict())
