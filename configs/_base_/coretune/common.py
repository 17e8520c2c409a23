# What the two Core-tuning fragments (cls_head.py, decode_head.py) share.
#
# The contrastive loss is stated as a dict so that a config inheriting
# either fragment can merge options into it, e.g.
#   model = dict(head=dict(contrast_loss=dict(gamma=2.0)))
# Its values (tau 0.07, focal gamma 1) and the mixup values (alpha 1,
# hard-negative lambda >= 0.8, hard-positive lambda >= 0.5) are the
# defaults of FocalSupConLoss and hard_pair_mixup (coretune_mm/core/), and
# live there only.
coretune_contrast_loss = dict(type='FocalSupConLoss')
