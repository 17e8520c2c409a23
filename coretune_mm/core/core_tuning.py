"""One Core-tuning step: gather, hard-pair mixup, projection, contrast.

Shared by the classification head and the pixel-level decode heads; the
adapters keep only what is host-specific (where the features and labels
come from, and how the classifier is trained on the generated samples).
"""
import contextlib
import inspect
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn

from .checks import check_bools, check_non_negative
from .distributed import gather_across_ranks, is_distributed
from .mixup import check_mixup_args, hard_pair_mixup
from .projection import ProjectionHead
from .sampling import as_generator_state

__all__ = [
    'CoreTuning', 'CoreTuningOutput', 'find_core_tuning', 'check_weights',
    'core_tuning_default'
]

# odd 64-bit constant: the private stream differs from the global one
_STREAM_OFFSET = 0x9E3779B97F4A7C15


class CoreTuningOutput(NamedTuple):
    """What one Core-tuning step returns.

    Attributes:
        samples (Tensor): (kN, D) the (gathered) originals, then the
            generated semi-hard negatives and hard positives.
        targets (Tensor): (kN, C) float32 soft labels of ``samples``.
        num_original (int): N, the number of (gathered) originals.
        loss_contrast (Tensor): ``contrast_weight`` times the contrastive
            loss of the projected samples (a DDP-safe zero when N < 2 or
            without a contrastive loss).
        stats (dict): detached scalars telling what the step did, for the
            log: ``classes`` (in the originals), ``lambda_hn`` /
            ``lambda_hp`` (mean mixing weights drawn) and what the
            contrastive loss reports (``positives`` per anchor,
            ``focal_weight``).
    """
    samples: torch.Tensor
    targets: torch.Tensor
    num_original: int
    loss_contrast: torch.Tensor
    stats: Dict[str, torch.Tensor]


def check_weights(contrast_weight: float,
                  mix_weight: Optional[float] = None) -> bool:
    """Check eta (and mu, unless None); return whether Core-tuning runs
    (``contrast_weight > 0``; 0 is the plain CE head).

    The one check of both weights: :class:`CoreTuning` and the heads, which
    build it only when this returns True, call it.
    """
    check_non_negative(contrast_weight=contrast_weight)
    if mix_weight is not None:
        check_non_negative(mix_weight=mix_weight)
    return contrast_weight > 0


class CoreTuning(nn.Module):
    """The Core-tuning step on a batch of features and soft labels.

    It owns the projection head, the mixup options and its own random
    stream. The stream is seeded from ``torch.initial_seed()`` and never
    draws from the global generator, so that a CE run and a Core-tuning run
    with the same seed see the same data order, augmentation and dropout.
    Each step draws one seed from the stream, identical on every rank.

    Args:
        in_channels (int): Feature dimension D.
        contrast_loss (callable, optional): ``(embeddings (M, d), soft
            labels (M, C)) -> scalar``, e.g. :class:`FocalSupConLoss`. None
            generates the samples without a contrastive term or projector
            (for the smooth classifier alone, or plain feature mixup).
        contrast_weight (float): eta. Defaults to 0.1.
        mix_weight (float, optional): mu, the weight of a separate
            smooth-classifier loss on the generated samples (the pixel
            heads' ``loss_mix``); None where the owner trains its classifier
            on them inside its own loss (the classification head's
            ``loss_cls``). Both weights live here, so that a schedule such as
            :class:`ContrastWarmupHook` finds them in one place. Defaults to
            None.
        mixup (dict, optional): Options of :func:`hard_pair_mixup`.
        projector (dict, optional): ``hidden_channels`` and ``out_channels``
            of :class:`ProjectionHead`.
        gather_across_ranks (bool): Under distributed training, run the step
            on the rows of all ranks. Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 contrast_loss: Optional[Callable[[torch.Tensor, torch.Tensor],
                                                  torch.Tensor]],
                 contrast_weight: float = 0.1,
                 mix_weight: Optional[float] = None,
                 mixup: Optional[dict] = None,
                 projector: Optional[dict] = None,
                 gather_across_ranks: bool = True):
        super().__init__()
        check_weights(contrast_weight, mix_weight)
        check_bools(gather_across_ranks=gather_across_ranks)
        self.mixup = dict(mixup or {})
        try:
            check_mixup_args(**self.mixup)
        except TypeError as err:
            raise ValueError(
                f'mixup: unknown option in {self.mixup}: {err}') from None
        except ValueError as err:
            raise ValueError(f'mixup: {err}') from None
        self.contrast_loss = contrast_loss
        self._loss_stats = _returns_stats(contrast_loss)
        self.contrast_weight = contrast_weight
        self.mix_weight = mix_weight
        self.gather_across_ranks = gather_across_ranks
        self._stream: Optional[torch.Generator] = None
        self.projector: Optional[ProjectionHead] = None
        if contrast_loss is None:
            return
        try:
            with self._own_rng():
                self.projector = ProjectionHead(in_channels, **(projector
                                                                or {}))
        except TypeError as err:
            raise ValueError(
                f'projector: unknown option in {projector}: {err}') from None
        except ValueError as err:
            raise ValueError(f'projector: {err}') from None

    @contextlib.contextmanager
    def _own_rng(self):
        """Seed the global CPU generator from the private stream for the block
        and restore it afterwards: draws made inside (the projector's
        initialisation) leave the global sequence as it was."""
        seed = int(torch.randint(2**62, (1, ), generator=self.stream))
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            yield

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation of the projector, drawn on the
        CPU from the private stream without touching the global generators: the
        same values on every device and dtype."""
        if self.projector is None:
            return
        # drawn on the CPU from the private stream and copied, wherever the
        # weights are (MMEngine moves the model to the GPU before
        # init_weights, where reset_parameters would draw from the global
        # CUDA generator)
        with self._own_rng(), torch.no_grad():
            for module in self.projector.modules():
                if isinstance(module, nn.Linear):
                    fresh = nn.Linear(
                        module.in_features,
                        module.out_features,
                        bias=module.bias is not None)
                    module.weight.copy_(fresh.weight)
                    if module.bias is not None:
                        module.bias.copy_(fresh.bias)

    # -- randomness --------------------------------------------------------
    @property
    def stream(self) -> torch.Generator:
        """The CPU generator of this module, created on first use."""
        if self._stream is None:
            seed = torch.tensor([
                (torch.initial_seed() ^ _STREAM_OFFSET) % 2**62
            ])
            if self.gather_across_ranks and is_distributed():
                backend_device = 'cuda' if dist.get_backend() == 'nccl' \
                    else 'cpu'
                seed = seed.to(backend_device)
                dist.broadcast(seed, src=0)
            self._stream = torch.Generator().manual_seed(int(seed))
        return self._stream

    def get_stream_state(self) -> torch.Tensor:
        """State of the private stream (saved for exact resume)."""
        return self.stream.get_state()

    def set_stream_state(self, state: torch.Tensor) -> None:
        """Restore a state from :meth:`get_stream_state` (on any device)."""
        self.stream.set_state(as_generator_state(state))

    def generators(self, device: torch.device
                   ) -> Tuple[torch.Generator, torch.Generator]:
        """Generators for one step on ``device``.

        Returns:
            tuple: ``shared``, seeded identically on every rank (mixup draws
            on the gathered batch), and ``local``, seeded per rank (draws on
            the rank's own data, such as pixel sampling).
        """
        seed = int(torch.randint(2**62, (1, ), generator=self.stream))
        rank = dist.get_rank() if is_distributed() else 0
        shared = torch.Generator(device=device).manual_seed(seed)
        local = torch.Generator(device=device).manual_seed(seed + 1 + rank)
        return shared, local

    # -- the step -----------------------------------------------------------
    def forward(self,
                features: torch.Tensor,
                soft_labels: torch.Tensor,
                generator: Optional[torch.Generator] = None
                ) -> CoreTuningOutput:
        """Mix hard samples into the batch and weigh their contrast.

        Every rank must call this once per step, also with no rows.

        Args:
            features (Tensor): (N, D) features of this rank.
            soft_labels (Tensor): (N, C) soft labels.
            generator (torch.Generator, optional): The shared generator of
                this step; drawn from :meth:`generators` when None.

        Returns:
            CoreTuningOutput: samples, targets, N and the weighted loss.
        """
        if self.gather_across_ranks:
            features, soft_labels = gather_across_ranks(features, soft_labels)
        num = features.size(0)
        soft_labels = soft_labels.float()
        if generator is None:
            generator = self.generators(features.device)[0]
        stats = dict(classes=(soft_labels.sum(dim=0) > 0).sum().float())
        if num < 2:
            return CoreTuningOutput(features, soft_labels, num,
                                    self.zero_loss(features), stats)
        samples, targets, plan = hard_pair_mixup(
            features,
            soft_labels,
            generator=generator,
            return_plan=True,
            **self.mixup)
        stats.update({
            f'lambda_{kind}': lam.float().mean().detach()
            for kind, lam in plan.lambdas().items()
        })
        if self.projector is None:
            return CoreTuningOutput(samples, targets, num,
                                    self.zero_loss(features), stats)
        # the projector's first layer on the originals only, its outputs
        # mixed as the samples were (exact: the layer is affine)
        embeddings = self.projector(features, plan=plan)
        if self._loss_stats:
            loss, loss_stats = self.contrast_loss(
                embeddings, targets, return_stats=True)
            stats.update(loss_stats)
        else:
            loss = self.contrast_loss(embeddings, targets)
        return CoreTuningOutput(samples, targets, num,
                                self.contrast_weight * loss, stats)

    def zero_loss(self, anchor: torch.Tensor) -> torch.Tensor:
        """A float32 zero that reaches every parameter (DDP needs it)."""
        touch = sum(p.sum() for p in self.parameters())
        return touch * 0.0 + anchor.float().sum() * 0.0

    def extra_repr(self) -> str:
        return (f'contrast_weight={self.contrast_weight}, '
                f'mix_weight={self.mix_weight}, mixup={self.mixup}, '
                f'gather_across_ranks={self.gather_across_ranks}')


def _returns_stats(loss: Optional[Callable]) -> bool:
    """Whether a contrastive loss takes ``return_stats`` (and then returns
    ``(loss, stats)``, as :func:`focal_supcon_loss` does)."""
    if loss is None:
        return False
    target = loss.forward if isinstance(loss, nn.Module) else loss
    try:
        return 'return_stats' in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def core_tuning_default(name: str):
    """The default of :class:`CoreTuning`'s argument ``name``.

    The heads take their Core-tuning defaults (``contrast_weight``,
    ``gather_across_ranks``) from here, so each default has one home: the
    core's signature.
    """
    return inspect.signature(CoreTuning).parameters[name].default


def find_core_tuning(model: nn.Module) -> Dict[str, CoreTuning]:
    """The :class:`CoreTuning` modules of ``model`` by qualified name."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, CoreTuning)
    }
