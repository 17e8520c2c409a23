import pytest
import torch
from scipy import stats

from coretune_mm.core import sample_beta, sample_gamma


# Below alpha ~0.3, float32 rounds a visible share of draws to exactly 1.
@pytest.mark.parametrize('alpha', [0.5, 1.0, 2.0, 5.0])
def test_beta_follows_the_distribution(alpha):
    g = torch.Generator().manual_seed(0)
    x = sample_beta(alpha, 20000, generator=g)
    assert ((x >= 0) & (x <= 1)).all()
    assert stats.kstest(x.double().numpy(), stats.beta(alpha, alpha).cdf)\
        .pvalue > 1e-3


@pytest.mark.parametrize('shape', [0.2, 0.5, 1.0, 3.0])
def test_gamma_follows_the_distribution(shape):
    g = torch.Generator().manual_seed(1)
    x = sample_gamma(shape, 20000, generator=g)
    assert stats.kstest(x.double().numpy(), stats.gamma(shape).cdf)\
        .pvalue > 1e-3


def test_seeded_and_validated():
    a = sample_beta(0.4, 10, generator=torch.Generator().manual_seed(5))
    b = sample_beta(0.4, 10, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match='alpha'):
        sample_beta(0.0, 3)
