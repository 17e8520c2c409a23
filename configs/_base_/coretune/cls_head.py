# Core-tuning's classification head, which replaces a CE config's
# `LinearClsHead` (same num_classes, in_channels, init_cfg and inference):
#
#   _base_ = ['<CE config>', '<this file>']
#   model = dict(head=_base_.coretune_cls_head)
#
# The paper's values (eta 0.1, tau 0.07, focal gamma 1, mixup alpha 1,
# hard-negative lambda >= 0.8, hard-positive lambda >= 0.5, a 256-d
# projector) are the defaults of the core (coretune_mm/core/), and live
# there only. This states what the CE config's head must lose or gain: a
# contrastive loss to merge options into (common.py), and a CE that takes
# the soft targets.
_base_ = ['./common.py']
coretune_cls_head = dict(
    type='CoreTuneClsHead',
    contrast_loss=_base_.coretune_contrast_loss,
    loss=dict(type='CrossEntropyLoss', use_soft=True))
