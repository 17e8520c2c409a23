import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _default_scope(request):
    """Build in the host library a test module names in ``DEFAULT_SCOPE``."""
    from mmengine.registry import DefaultScope
    scope = getattr(request.module, 'DEFAULT_SCOPE', 'mmpretrain')
    with DefaultScope.overwrite_default_scope(scope):
        yield


def _register_test_hooks():
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    @HOOKS.register_module(force=True)
    class StopAfterEpochHook(Hook):
        """Stop training after an epoch, after the checkpoint is written."""
        priority = 'LOWEST'

        def __init__(self, epoch):
            self.epoch = epoch

        def after_train_epoch(self, runner):
            if runner.epoch + 1 >= self.epoch:  # counter moves after hooks
                runner.train_loop.stop_training = True


_register_test_hooks()
