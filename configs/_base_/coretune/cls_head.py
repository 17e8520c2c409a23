# Core-tuning's classification head, which replaces a CE config's
# `LinearClsHead` (same num_classes, in_channels, init_cfg and inference):
#
#   _base_ = ['<CE config>', '<this file>']
#   model = dict(head=_base_.coretune_cls_head)
#
# The values are the paper's (eta 0.1, tau 0.07, focal gamma 1, mixup
# alpha 1, hard-negative lambda >= 0.8, hard-positive lambda >= 0.5).
coretune_cls_head = dict(
    type='CoreTuneClsHead',
    contrast_weight=0.1,
    contrast_loss=dict(type='FocalSupConLoss', temperature=0.07, gamma=1.0),
    mixup=dict(alpha=1.0, hn_lambda_min=0.8, hp_lambda_min=0.5),
    smooth_classifier=True,
    projector=dict(out_channels=256),
    loss=dict(type='CrossEntropyLoss', use_soft=True))
