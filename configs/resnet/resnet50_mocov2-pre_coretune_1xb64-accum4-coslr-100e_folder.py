# Core-tuning: the CE config with Core-tuning's head.
_base_ = [
    './resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_folder.py',
    '../_base_/coretune/cls_head.py'
]

model = dict(head=_base_.coretune_cls_head)
