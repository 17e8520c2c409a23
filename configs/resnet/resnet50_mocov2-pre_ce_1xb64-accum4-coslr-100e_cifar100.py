# CE-tuning baseline: ResNet-50 fine-tuned from MoCo-v2 on cifar100.
_base_ = [
    '../_base_/models/resnet50_mocov2-pre.py',
    '../_base_/datasets/cifar100_bs64_224.py',
    '../_base_/schedules/sgd-nesterov_coslr-100e_accum4.py',
    '../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=100))
