# The classification demo with Core-tuning: the CE demo plus the head.
_base_ = ['./resnet18_ce_digits-folder.py', '../_base_/coretune/cls_head.py']

model = dict(
    head=dict(_base_.coretune_cls_head, projector=dict(out_channels=128)))
