# CE-tuning of a ViT-S/16 from MoCo v3 on CIFAR-100 (224 px), the pair of
# ./vit-small-p16_mocov3-pre_coretune_*_cifar100.py: MMPretrain's ViT
# fine-tuning recipe (the schedule base), without Mixup / CutMix so that the
# CE baseline and Core-tuning differ only in the head. The checkpoint: MoCo
# v3's ViT-S/16 in MMPretrain's key layout (see the model base).
_base_ = [
    '../_base_/models/vit-small-p16_mocov3-pre.py',
    '../_base_/datasets/cifar100_bs64_224.py',
    '../_base_/schedules/adamw-layer-decay_coslr-100e_accum2.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/coretune_runtime.py',
]

model = dict(head=dict(num_classes=100))
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=2))
