"""PASCAL VOC 2012 training set, with SBD's augmented masks ("VOC aug")."""
import os.path as osp
from typing import List, Union

from mmengine.dataset import ConcatDataset
from mmseg.registry import DATASETS

from coretune_mm.core import check_bools

__all__ = ['PascalVOCWithSBD']


@DATASETS.register_module()
class PascalVOCWithSBD(ConcatDataset):
    """VOC 2012 ``train`` plus SBD's ``aug`` split (the benchmark's 10,582
    training images), or VOC ``train`` alone with ``sbd=False``.

    The usual "VOC aug" layout: ``<data_root>/SegmentationClassAug`` and
    ``<data_root>/ImageSets/Segmentation/aug.txt``, written by
    MMSegmentation's converter (``mim run mmseg voc_aug`` or its
    ``tools/dataset_converters/voc_aug.py``). Training on VOC ``train``
    alone changes the benchmark, so it is a choice (``sbd=False``), not a
    fallback: with ``sbd=True`` missing SBD files stop the run. Both parts
    are MMSegmentation's own ``PascalVOCDataset``.

    Args:
        data_root (str): ``VOCdevkit/VOC2012``.
        pipeline (list[dict]): Data pipeline.
        sbd (bool): Add SBD's ``aug`` split. Defaults to True.
        ann_file (str): VOC split. Defaults to the ``train`` list.
        sbd_seg_map_path (str): SBD masks, relative to ``data_root``.
        sbd_ann_file (str): SBD split, relative to ``data_root``.
        **kwargs: More ``PascalVOCDataset`` arguments (e.g. ``metainfo``).
    """

    def __init__(self,
                 data_root: str,
                 pipeline: List[Union[dict, callable]],
                 sbd: bool = True,
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

        check_bools(sbd=sbd)
        datasets = [part('SegmentationClass', ann_file)]
        if sbd:
            missing = [
                path for path in (osp.join(data_root, sbd_seg_map_path),
                                  osp.join(data_root, sbd_ann_file))
                if not osp.exists(path)
            ]
            if missing:
                raise FileNotFoundError(
                    f'sbd=True: no {" or ".join(missing)}; prepare SBD with '
                    '`mim run mmseg voc_aug data/VOCdevkit '
                    'data/VOCdevkit/benchmark_RELEASE` (README, "Data"), or '
                    'train on VOC train alone with '
                    'train_dataloader.dataset.sbd=False')
            datasets.append(part(sbd_seg_map_path, sbd_ann_file))
        super().__init__(datasets=datasets)
