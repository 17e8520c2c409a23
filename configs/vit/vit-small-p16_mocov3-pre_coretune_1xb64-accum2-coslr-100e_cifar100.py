# Core-tuning of a ViT-S/16 from MoCo v3 on CIFAR-100: the CE config with the
# Core-tuning head on the class token.
_base_ = [
    './vit-small-p16_mocov3-pre_ce_1xb64-accum2-coslr-100e_cifar100.py',
    '../_base_/coretune/cls_head.py'
]

model = dict(
    head=dict(
        _base_.coretune_cls_head, type='CoreTuneVisionTransformerClsHead'))
