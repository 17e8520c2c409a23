# The top-level config of the same name, in a folder so that configs outside
# this repository can inherit it through MMEngine's package prefix, which
# takes a folder: `_base_ = 'coretune_mm::deeplabv3plus/<this file>'`.
_base_ = '../deeplabv3plus_r50_ce_voc.py'
