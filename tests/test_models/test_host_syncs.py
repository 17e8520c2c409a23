"""Host synchronisations that Core-tuning adds to a training step.

On an accelerator, an operation whose result size or value the host must
read (``nonzero``, ``unique``, ``bincount``, boolean-mask indexing,
``.item()`` / ``bool()`` ...) stalls the host until the device catches up,
and so does a tensor made from host data on the device (``torch.tensor(x,
device=...)``: a synchronous copy from pageable memory).
These tests count such operations in a step of each Core-tuning head and of
the stock head it replaces, on the CPU, with a dispatch mode; the
difference is what Core-tuning adds. Two call sites are left out because
they never run on the device's tensors: the draw of each step's seed from
Core-tuning's own CPU generator, and the label range check that
``to_soft_labels`` makes for CPU tensors only.
"""
import traceback

import torch
from mmengine.registry import DefaultScope
from tool_runs import load_tool
from torch.utils._python_dispatch import TorchDispatchMode

import coretune_mm  # noqa: F401

aten = torch.ops.aten
# what the device check allows on a GPU, from the same counts
SYNC_LIMIT = load_tool('analysis_tools/device_check.py').SYNC_LIMIT
SYNCING = {
    aten.nonzero.default, aten._local_scalar_dense.default,
    aten._unique2.default, aten.unique_dim.default,
    aten.unique_consecutive.default, aten._unique.default,
    aten.masked_select.default, aten.bincount.default,
    aten.repeat_interleave.Tensor, aten.is_nonzero.default, aten.equal.default,
    aten.argwhere.default, aten.lift_fresh.default
}
INDEXING = {aten.index.Tensor, aten.index_put_.default, aten.index_put.default}
HOST_ONLY = {'to_soft_labels', 'generators'}


class CountSyncs(TorchDispatchMode):
    """Records the operations that synchronise with an accelerator."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        syncs = func in SYNCING or (func in INDEXING and any(
            i is not None and i.dtype == torch.bool for i in args[1]))
        if syncs and not HOST_ONLY & {
                frame.name
                for frame in traceback.extract_stack()
        }:
            self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def count(step) -> list:
    with CountSyncs() as counter:
        step()
    return counter.ops


def test_classification_head_adds_no_synchronisation():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    feats = torch.randn(12, 16, requires_grad=True)
    samples = [DataSample().set_gt_label(int(y)) for y in torch.arange(12) % 5]
    syncs = {}
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        for head_type in ('LinearClsHead', 'CoreTuneClsHead'):
            head = MODELS.build(
                dict(type=head_type, num_classes=5, in_channels=16))
            syncs[head_type] = count(lambda: head.loss((feats, ), samples))
    added = len(syncs['CoreTuneClsHead']) - len(syncs['LinearClsHead'])
    assert added <= SYNC_LIMIT['cls'] == 0, syncs


def test_segmentation_head_adds_at_most_two():
    """The label check (one ``any``) and the pixel selection, whose size
    depends on the data (one ``nonzero``)."""
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    label = torch.randint(3, (2, 1, 16, 16))
    label[0, 0, :3] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in label]
    inputs = [torch.randn(2, 8, 8, 8)]
    syncs = {}
    with DefaultScope.overwrite_default_scope('mmseg'):
        for head_type, extra in (('ASPPHead',
                                  {}), ('CoreTuneASPPHead',
                                        dict(projector=dict(out_channels=4))),
                                 ('CoreTuneASPPHead',
                                  dict(
                                      mix_loss=True,
                                      projector=dict(out_channels=4)))):
            head = MODELS.build(
                dict(
                    type=head_type,
                    in_channels=8,
                    channels=8,
                    num_classes=3,
                    dilations=(1, 2),
                    norm_cfg=dict(type='BN'),
                    **extra))
            key = head_type + ('+mix' if extra.get('mix_loss') else '')
            syncs[key] = count(lambda: head.loss(inputs, samples, None))
    stock = len(syncs['ASPPHead'])
    for key in ('CoreTuneASPPHead', 'CoreTuneASPPHead+mix'):
        assert len(syncs[key]) - stock <= SYNC_LIMIT['seg'] == 2, syncs[key]
