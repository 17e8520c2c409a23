# The short name of a config in its model folder, kept as an entry
# point: resnet/resnet50_mocov2-pre_coretune_1xb64-accum4-coslr-100e_folder.py
_base_ = ('./resnet/resnet50_mocov2-pre_coretune_1xb64-accum4-coslr-100e_'
          'folder.py')
