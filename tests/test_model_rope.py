import torch

from longctx.model.rope import RotaryEmbedding


def test_score_depends_only_on_position_difference():
    torch.manual_seed(0)
    rope = RotaryEmbedding(32)
    q, k = torch.randn(1, 1, 1, 32), torch.randn(1, 1, 1, 32)

    def score(m: int, n: int) -> float:
        qm = rope(q, torch.tensor([m]))
        kn = rope(k, torch.tensor([n]))
        return float((qm * kn).sum())

    for m, n, shift in [(5, 2, 100), (0, 17, 999_000), (123_456, 123_000, 654_321)]:
        assert abs(score(m, n) - score(m + shift, n + shift)) < 1e-3
    assert abs(score(5, 2) - score(5, 40)) > 1e-3  # it does depend on the difference


def test_rotation_preserves_norm_and_ntk_covers_1m():
    rope = RotaryEmbedding(32, max_positions=1 << 20, train_positions=32768)
    x = torch.randn(2, 3, 7, 32)
    pos = torch.tensor([0, 1, 10, 1000, 500_000, 999_999, 1_048_575])
    assert torch.allclose(rope(x, pos).norm(dim=-1), x.norm(dim=-1), atol=1e-4)
    assert rope.longest_wavelength() >= 1_000_000
    assert RotaryEmbedding(32, scaling="none").longest_wavelength() < 100_000
