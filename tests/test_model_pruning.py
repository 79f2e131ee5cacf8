import math

import pytest
import torch

from longctx.model.pruning import PruningLayer, budget_loss, keep_count, keep_loss


@pytest.mark.parametrize("n,rho", [(100, 0.1), (101, 0.25), (7, 0.2), (1, 0.1), (50, 1.0)])
def test_keep_count(n, rho):
    assert keep_count(n, rho) == min(n, max(1, math.ceil(rho * n)))


@pytest.mark.parametrize("rho", [0.1, 0.25, 1.0])
def test_keeps_exactly_k_sorted_unique(rho):
    torch.manual_seed(0)
    layer = PruningLayer(32, 4, rho=rho).eval()
    doc, query = torch.randn(97, 32), torch.randn(3, 6, 32)
    out = layer(doc, query)
    k = math.ceil(rho * 97)
    assert out.kept_index.shape == (3, k)
    for row in out.kept_index:
        assert torch.equal(row, row.sort().values) and row.unique().numel() == k
    # the kept ones are the global top-k of the scores
    top = out.keep_logits.topk(k, dim=1).indices.sort(dim=1).values
    assert torch.equal(top, out.kept_index)
    assert torch.all(out.gate == 1)


def test_force_keep():
    layer = PruningLayer(16, 2, rho=0.1).eval()
    force = torch.zeros(1, 50, dtype=torch.bool)
    force[0, 33] = True
    out = layer(torch.randn(50, 16), torch.randn(1, 4, 16), force_keep=force)
    assert 33 in out.kept_index[0].tolist() and out.kept_index.shape == (1, 5)


@pytest.mark.parametrize("mode", ["straight_through", "soft_topk"])
def test_gradient_reaches_scorer(mode):
    torch.manual_seed(0)
    layer = PruningLayer(32, 4, rho=0.2, mode=mode, temperature=0.5).train()
    doc, query = torch.randn(40, 32), torch.randn(2, 5, 32)
    out = layer(doc, query)
    kept = out.fused.gather(1, out.kept_index.unsqueeze(-1).expand(-1, -1, 32)) * out.gate.unsqueeze(-1)
    (kept.sum(-1) ** 2).sum().backward()  # a downstream loss only
    g = layer.scorer[-1].weight.grad
    assert g is not None and g.abs().sum() > 0
    if mode == "straight_through":
        assert torch.allclose(out.gate, torch.ones_like(out.gate))
    else:
        assert torch.all(out.gate > 0.5) and torch.all(out.gate < 1)


def test_losses():
    logits = torch.tensor([[4.0, -4.0, 0.0, 2.0]], requires_grad=True)
    labels = torch.tensor([[1, 0, -1, 1]])
    kl = keep_loss(logits, labels)
    assert kl.item() < 0.2
    bl = budget_loss(logits, 0.25)
    (kl + bl).backward()
    assert logits.grad[0, 2] != 0 and bl.item() > 0  # ignored label still gets the budget gradient
