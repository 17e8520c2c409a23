"""Seeded random draws that stay on the input's device.

``torch.distributions.Beta`` cannot take a ``torch.Generator``; the mixup
needs one so that runs are reproducible and resumable, hence this sampler.
"""
from typing import Optional

import torch

__all__ = ['sample_beta', 'sample_gamma', 'as_generator_state']

# Candidates drawn per value by the Marsaglia-Tsang rejection sampler. Each is
# accepted with probability > 0.95 for shape >= 1, so running out of
# candidates has probability < 1e-20.
_GAMMA_CANDIDATES = 16


def sample_gamma(shape: float,
                 num: int,
                 *,
                 device: Optional[torch.device] = None,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw ``num`` samples of Gamma(shape, 1) with a fixed number of tensor
    ops.

    Marsaglia and Tsang's method (ACM TOMS 2000), vectorised over a fixed
    number of candidates so that no host synchronisation is needed; shapes
    below 1 use the boost ``Gamma(a) = Gamma(a + 1) * U ** (1 / a)``.

    Args:
        shape (float): The shape parameter, > 0.
        num (int): Number of samples.
        device (torch.device, optional): Where to draw. Defaults to the
            generator's device, else the CPU.
        generator (torch.Generator, optional): Source of randomness.
            Defaults to the global generator of ``device``.

    Returns:
        Tensor: float32 samples of shape (num, ).
    """
    if not shape > 0:
        raise ValueError(f'Gamma shape must be > 0, got {shape}')
    if device is None:
        device = generator.device if generator is not None else 'cpu'
    boosted = shape < 1
    a = shape + 1.0 if boosted else float(shape)
    d = a - 1.0 / 3.0
    c = 1.0 / (9.0 * d)**0.5
    x = torch.randn(_GAMMA_CANDIDATES, num, device=device, generator=generator)
    u = torch.rand(_GAMMA_CANDIDATES, num, device=device, generator=generator)
    v = (1.0 + c * x)**3
    v_pos = v.clamp_min(1e-12)
    accept = (v > 0) & (
        torch.log(u) < 0.5 * x * x + d - d * v_pos + d * torch.log(v_pos))
    # argmax returns the first maximal index: the first accepted candidate.
    first = accept.to(torch.uint8).argmax(dim=0, keepdim=True)
    samples = d * v_pos.gather(0, first).squeeze(0)
    if boosted:
        boost = torch.rand(num, device=device, generator=generator)
        samples = samples * boost.clamp_min(1e-12).pow(1.0 / shape)
    return samples


def sample_beta(alpha: float,
                num: int,
                *,
                device: Optional[torch.device] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Draw ``num`` samples of the symmetric Beta(alpha, alpha).

    Args:
        alpha (float): Concentration, > 0. ``alpha = 1`` is Uniform(0, 1).
        num (int): Number of samples.
        device (torch.device, optional): Where to draw. Defaults to the
            generator's device, else the CPU.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        Tensor: float32 samples in [0, 1] of shape (num, ).
    """
    if not alpha > 0:
        raise ValueError(f'alpha must be > 0, got {alpha}')
    if device is None:
        device = generator.device if generator is not None else 'cpu'
    if alpha == 1:
        return torch.rand(num, device=device, generator=generator)
    x = sample_gamma(alpha, num, device=device, generator=generator)
    y = sample_gamma(alpha, num, device=device, generator=generator)
    return x / (x + y).clamp_min(torch.finfo(x.dtype).tiny)


def as_generator_state(state: torch.Tensor) -> torch.Tensor:
    """A saved random state as the CPU ByteTensor that ``torch.set_rng_state``,
    ``torch.cuda.set_rng_state`` and ``Generator.set_state`` accept.

    A checkpoint loaded onto an accelerator (MMEngine's ``resume`` maps it
    to the training device) brings its states back as device tensors,
    which those functions refuse.
    """
    if not torch.is_tensor(state):
        raise TypeError('a random state must be a tensor, got '
                        f'{type(state).__name__}')
    return state.detach().to(device='cpu', dtype=torch.uint8).contiguous()
