"""Registration of coretune_mm modules into the host libraries' registries,
and the ``coretune_mm`` scope that ``_base_ = 'coretune_mm::...'`` needs.

Heads belong to one host; the loss is registered into both so that
classification and segmentation configs can name it.

A config inherited through ``coretune_mm::`` gets ``_scope_='coretune_mm'``
on each typed dict it defines (MMEngine's rule for configs of another
package), and MMEngine then builds those dicts, and everything they build in
turn, from the registries of that scope. coretune_mm registers its modules
into the hosts' registries instead of owning a tree, because it serves two
hosts; so the registries of its scope hold nothing and look every name up in
the host named by the config's ``default_scope`` (``mmseg`` or
``mmpretrain``, set by every shipped config).
"""
from typing import Optional, Type

import mmengine.registry.root as mmengine_root
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import DefaultScope, Registry
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from mmseg.registry import MODELS as SEG_MODELS

__all__ = [
    'PRETRAIN_MODELS', 'SEG_MODELS', 'SCOPE', 'HostScopeRegistry',
    'register_model', 'register_config_scope'
]

SCOPE = 'coretune_mm'


def register_model(cls: type) -> type:
    """Register ``cls`` into MMPretrain's and MMSegmentation's MODELS."""
    PRETRAIN_MODELS.register_module(module=cls)
    SEG_MODELS.register_module(module=cls)
    return cls


def host_scope() -> Optional[str]:
    """The default scope in force before MMEngine switched to ours."""
    # a switch adds an instance and restores the previous ones afterwards,
    # so the newest other instance is the scope the switch interrupted
    for instance in reversed(list(DefaultScope._instance_dict.values())):
        if instance.scope_name != SCOPE:
            return instance.scope_name
    return None


class HostScopeRegistry(Registry):
    """A registry of the ``coretune_mm`` scope that holds no modules and looks
    every name up in the host registry of the same kind.

    The host is the scope that was the default before MMEngine switched to
    ``coretune_mm``: the config's ``default_scope``.
    """

    def host(self) -> Registry:
        """The host library's registry of this kind.

        Raises:
            RuntimeError: No default scope of a host library is set, or it
                has no registry of this kind.
        """
        scope = host_scope()
        registry = None
        if scope is not None:
            registry = self._get_root_registry()._search_child(scope)
        if registry is None:
            raise RuntimeError(
                f'a config inherited through `{SCOPE}::` builds its modules '
                "from the library named by its `default_scope` ('mmseg' or "
                f"'mmpretrain'), but the default scope is {scope!r}, which "
                f'has no "{self.name}" registry')
        return registry

    def get(self, key: str) -> Optional[Type]:
        """Look ``key`` up in the host's registry (see :meth:`host`)."""
        return self.host().get(key)


def _scope_registries() -> dict:
    """One :class:`HostScopeRegistry` under each of MMEngine's root registries
    (MMEngine finds them by searching the tree for the scope)."""
    registries = {}
    for root in vars(mmengine_root).values():
        if isinstance(root, Registry) and root.parent is None:
            registries[root.name] = root._children.get(SCOPE) or \
                HostScopeRegistry(root.name, parent=root, scope=SCOPE,
                                  locations=[SCOPE])
    return registries


SCOPE_REGISTRIES = _scope_registries()


def register_config_scope() -> None:
    """Let MMEngine read ``_base_ = 'coretune_mm::PATH'``: ``PATH`` under
    this package's ``.mim/configs`` (the repository's ``configs/``).

    MMEngine accepts only the prefixes listed in ``MODULE2PACKAGE`` and finds
    the package's folder from the name it maps to. Given a distribution's
    name, it takes the folder from the installed metadata, which for an
    editable install (``pip install -e .``) is site-packages, where the
    package is not; given a module that no distribution is named after, it
    asks the import system, which is right for both kinds of install.
    """
    MODULE2PACKAGE.setdefault(SCOPE, f'{SCOPE}.registry')
