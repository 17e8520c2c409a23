# Core-tuning on Fashion-MNIST: the CE config plus the Core-tuning head,
# logging the contrastive / classification gradient ratio every 10 steps.
_base_ = ['./resnet18_ce_fashion-mnist.py', '../_base_/coretune/cls_head.py']

model = dict(
    head=dict(
        _base_.coretune_cls_head,
        projector=dict(out_channels=128),
        grad_ratio_interval=10))
