# The short name of a config in its model folder, kept as an entry
# point:
# deeplabv3plus/deeplabv3plus_r50-d8_mocov2-pre_ce_4xb4-20k_voc12aug-512x512.py
_base_ = ('./deeplabv3plus/deeplabv3plus_r50-d8_mocov2-pre_ce_4xb4-20k_'
          'voc12aug-512x512.py')
