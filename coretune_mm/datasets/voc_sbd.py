"""PASCAL VOC 2012 training set, with SBD's augmented masks when present."""
import os.path as osp
from typing import List, Union

from mmengine.dataset import ConcatDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

__all__ = ['PascalVOCWithSBD']


@DATASETS.register_module()
class PascalVOCWithSBD(ConcatDataset):
    """VOC 2012 ``train`` plus SBD's ``aug`` split when it is on disk.

    The usual "VOC aug" layout: ``<data_root>/SegmentationClassAug`` and
    ``<data_root>/ImageSets/Segmentation/aug.txt`` (see MMSegmentation's
    dataset preparation). Without them, VOC ``train`` alone is used and a
    line in the log says so. Both parts are MMSegmentation's own
    ``PascalVOCDataset``.

    Args:
        data_root (str): ``VOCdevkit/VOC2012``.
        pipeline (list[dict]): Data pipeline.
        ann_file (str): VOC split. Defaults to the ``train`` list.
        sbd_seg_map_path (str): SBD masks, relative to ``data_root``.
        sbd_ann_file (str): SBD split, relative to ``data_root``.
        **kwargs: More ``PascalVOCDataset`` arguments (e.g. ``metainfo``).
    """

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[dict, callable]],
                 ann_file: str = 'ImageSets/Segmentation/train.txt',
                 sbd_seg_map_path: str = 'SegmentationClassAug',
                 sbd_ann_file: str = 'ImageSets/Segmentation/aug.txt',
                 **kwargs):
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'data_root: no such folder {data_root!r}; expected '
                'VOCdevkit/VOC2012 (see README, "PASCAL VOC")')

        def part(seg_map_path: str, split: str) -> dict:
            return dict(
                type='PascalVOCDataset',
                data_root=data_root,
                data_prefix=dict(
                    img_path='JPEGImages', seg_map_path=seg_map_path),
                ann_file=split,
                pipeline=pipeline,
                **kwargs)

        datasets = [part('SegmentationClass', ann_file)]
        if osp.isdir(osp.join(data_root, sbd_seg_map_path)) and osp.isfile(
                osp.join(data_root, sbd_ann_file)):
            datasets.append(part(sbd_seg_map_path, sbd_ann_file))
        else:
            print_log(
                f'SBD not found under {data_root} ({sbd_seg_map_path}, '
                f'{sbd_ann_file}): training on VOC {ann_file} only.',
                logger='current')
        super().__init__(datasets=datasets)
