"""Two gloo processes on the CPU against one process on the whole batch."""
import datetime
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

WORLD = 2
TIMEOUT_S = 240
OTHER_DECODE_HEADS = {
    'CoreTuneUPerHead':
    dict(in_channels=[4, 8], in_index=[0, 1], pool_scales=(1, 2)),
    'CoreTuneFCNHead':
    dict(in_channels=8, in_index=1, num_convs=1),
    'CoreTunePSPHead':
    dict(in_channels=8, in_index=1, pool_scales=(1, 2)),
    'CoreTuneSegformerHead':
    dict(in_channels=[4, 8], in_index=[0, 1]),
}


def whole_batch(seed=0, num=16, dim_in=6, dim=10, num_classes=3):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(num, dim_in, generator=g)
    labels = torch.arange(num) % num_classes
    return inputs, labels


def core_loss(features, labels, num_classes=3):
    from coretune_mm.core import (focal_supcon_loss, gather_across_ranks,
                                  hard_pair_mixup)
    features, labels = gather_across_ranks(features, labels)
    mixed, mixed_targets = hard_pair_mixup(
        features,
        F.one_hot(labels, num_classes).float(),
        generator=torch.Generator().manual_seed(0))
    return focal_supcon_loss(F.normalize(mixed, dim=1), mixed_targets)


class TinyClassifier(nn.Module):
    """A linear "backbone" (or a one-block ViT on 8 x 8 images) and the Core-
    tuning head."""

    def __init__(self, head_type='CoreTuneClsHead', vit=False):
        super().__init__()
        from mmpretrain.registry import MODELS
        torch.manual_seed(1)
        if vit:
            self.backbone = MODELS.build(
                dict(
                    type='VisionTransformer',
                    arch=dict(
                        embed_dims=10,
                        num_layers=1,
                        num_heads=2,
                        feedforward_channels=16),
                    img_size=8,
                    patch_size=4,
                    out_type='cls_token'))
            self.backbone.init_weights()
        else:
            self.backbone = nn.Linear(6, 10)
        self.head = MODELS.build(
            dict(
                type=head_type,
                num_classes=3,
                in_channels=10,
                projector=dict(out_channels=4)))
        self.head.init_weights()

    def forward(self, inputs, samples):
        features = self.backbone(inputs)
        if not isinstance(features, tuple):
            features = (features, )
        losses = self.head.loss(features, samples)
        return sum(v for k, v in losses.items() if 'loss' in k)


def samples_of(labels):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(int(y)) for y in labels]


def worker(rank, init_file):
    import coretune_mm  # noqa: F401
    from coretune_mm.core.distributed import is_distributed
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=WORLD,
        timeout=datetime.timedelta(seconds=60))
    assert is_distributed()
    inputs, labels = whole_batch()
    part = slice(rank * 8, rank * 8 + 8)

    # 1. the loss alone: equal value; the local gradient is the sum over
    # ranks, which DDP's averaging turns into the single-process gradient
    local = inputs[part].clone().requires_grad_()
    torch.manual_seed(0)
    loss = core_loss(local, labels[part])
    loss.backward()
    full = inputs.clone().requires_grad_()
    torch.manual_seed(0)
    from coretune_mm.core import focal_supcon_loss, hard_pair_mixup
    mixed, targets = hard_pair_mixup(
        full,
        F.one_hot(labels, 3).float(),
        generator=torch.Generator().manual_seed(0))
    reference = focal_supcon_loss(F.normalize(mixed, dim=1), targets)
    reference.backward()
    assert torch.allclose(loss, reference, atol=1e-6)
    assert torch.allclose(local.grad / WORLD, full.grad[part], atol=1e-6)

    # 2. one head step under DDP equals one process on the whole batch,
    # also with a ViT backbone under the ViT head
    images = torch.randn(
        16, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    for head_type, vit in (('CoreTuneClsHead', False),
                           ('CoreTuneVisionTransformerClsHead', False),
                           ('CoreTuneVisionTransformerClsHead', True)):
        model = TinyClassifier(head_type, vit)
        single = TinyClassifier(head_type, vit)
        single.head.core_tuning.gather_across_ranks = False
        ddp = nn.parallel.DistributedDataParallel(model)
        batch = images if vit else inputs
        torch.manual_seed(0)
        ddp(batch[part], samples_of(labels[part])).backward()
        torch.manual_seed(0)
        single(batch, samples_of(labels)).backward()
        for (name, p), q in zip(model.named_parameters(), single.parameters()):
            assert torch.allclose(p.grad, q.grad, atol=1e-6), \
                (head_type, vit, name)

    # 3. a rank with nothing to sample neither deadlocks nor desynchronises
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS as SEG_MODELS
    from mmseg.structures import SegDataSample

    def seg_head(**kwargs):
        torch.manual_seed(2)
        return SEG_MODELS.build(
            dict(
                type='CoreTuneASPPHead',
                in_channels=4,
                channels=8,
                num_classes=3,
                dilations=(1, 2),
                norm_cfg=dict(type='BN'),
                mix_loss=True,
                projector=dict(out_channels=4),
                **kwargs))

    head = seg_head()
    label = torch.randint(3, (2, 1, 16, 16))
    if rank == 1:
        label[:] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in label]
    for _ in range(2):  # two steps: no rank is left waiting
        losses = head.loss([torch.randn(2, 4, 8, 8)], samples, None)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total)
        total.backward()
        # the empty rank still reaches the projector (no unused parameters)
        assert all(p.grad is not None
                   for p in head.core_tuning.projector.parameters())

    # 4. the pixel budget M is global by default: M / W per rank
    label = torch.randint(3, (2, 1, 16, 16))
    samples = [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in label]
    # (without gathering each rank contrasts alone, with M pixels)
    for budget, gather, expected in (('global', True, 12),
                                     ('per_rank', True, 24), ('global', False,
                                                              24)):
        head = seg_head(
            pixel_sampler=dict(max_samples=24),
            pixel_budget=budget,
            gather_across_ranks=gather)
        losses = head.loss([torch.randn(2, 4, 8, 8)], samples, None)
        assert int(losses['core_pixels']) == expected, (budget, gather)

    # 5. the other decode heads (multi-level inputs or the last level): the
    # gathered pixel contrast runs on both ranks
    levels = [torch.randn(2, 4, 16, 16), torch.randn(2, 8, 8, 8)]
    for head_type, options in OTHER_DECODE_HEADS.items():
        torch.manual_seed(3)
        head = SEG_MODELS.build(
            dict(
                type=head_type,
                channels=8,
                num_classes=3,
                norm_cfg=dict(type='BN'),
                projector=dict(out_channels=4),
                **options))
        losses = head.loss(levels, samples, None)
        total = sum(v for k, v in losses.items() if 'loss' in k)
        assert torch.isfinite(total), head_type
        assert int(losses['core_pixels']) > 0, head_type
        total.backward()
        assert all(p.grad is not None for p in head.parameters()), head_type
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_equal_one_process(tmp_path):
    init_file = str(tmp_path / 'init')
    context = mp.start_processes(
        worker,
        args=(init_file, ),
        nprocs=WORLD,
        join=False,
        start_method='spawn')
    deadline = time.time() + TIMEOUT_S
    while not context.join(timeout=5):
        if time.time() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail('distributed workers did not finish in time')
