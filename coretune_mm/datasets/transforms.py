"""Small data transforms the shipped configs need."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

__all__ = ['GrayToRGB']


@TRANSFORMS.register_module()
class GrayToRGB(BaseTransform):
    """Repeat a grey image (H, W) or (H, W, 1) into three channels.

    MMPretrain's ``MNIST`` / ``FashionMNIST`` give (H, W) arrays; RGB
    backbones and colour transforms want (H, W, 3). Images that already
    have three channels pass through.

    Required keys: ``img``. Modified keys: ``img``.
    """

    def transform(self, results: dict) -> dict:
        img = results['img']
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3 or img.shape[2] not in (1, 3):
            raise ValueError('GrayToRGB: expected an (H, W), (H, W, 1) or '
                             f'(H, W, 3) image, got shape {img.shape}')
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        results['img'] = np.ascontiguousarray(img)
        results['img_shape'] = img.shape[:2]
        return results
