# The top-level config of the same name, in a folder so that configs outside
# this repository can inherit it through MMEngine's package prefix, which
# takes a folder: `_base_ = 'coretune_mm::deeplabv3/<this file>'`.
_base_ = '../deeplabv3_r50_coretune_voc-format-template.py'
