"""The modality-gap measures (clipbook.modality) against cases worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from clipbook import modality as mg


def test_gap_of_identical_sets_is_zero():
    x = torch.randn(50, 8)
    assert mg.modality_gap(x, x) == pytest.approx(0.0, abs=1e-6)
    assert mg.modality_gap(x, 3 * x) == pytest.approx(0.0, abs=1e-6)  # rows are normalised first


def test_gap_of_two_opposite_points_is_two():
    e = torch.eye(4)
    assert mg.modality_gap(e[:1].repeat(5, 1), -e[:1].repeat(3, 1)) == pytest.approx(2.0)
    # orthogonal unit vectors: the centres are sqrt(2) apart
    assert mg.modality_gap(e[:1], e[1:2]) == pytest.approx(math.sqrt(2))
    torch.testing.assert_close(mg.gap_vector(e[:1], e[1:2]), torch.tensor([1.0, -1.0, 0.0, 0.0]))


def test_cone_cosine_by_hand():
    # three unit vectors: cosines e1.e2 = 0, e1.u = e2.u = 1/sqrt(2) with u = (e1+e2)/sqrt(2)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert mg.cone_cosine(x) == pytest.approx((0 + 2 / math.sqrt(2)) / 3)
    assert mg.cone_cosine(torch.ones(6, 3)) == pytest.approx(1.0)  # one direction: the narrowest cone
    assert mg.cone_cosine(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(-1.0)


def test_cone_cosine_matches_the_pairwise_mean():
    x = torch.randn(40, 16) + 2.0  # shifted: a cone with a clearly positive mean cosine
    xn = F.normalize(x, dim=1)
    cos = xn @ xn.T
    brute = (cos.sum() - cos.diag().sum()) / (40 * 39)
    assert mg.cone_cosine(x) == pytest.approx(float(brute), abs=1e-5)
    assert mg.cone_cosine(x) > 0.5


def test_shift_by_one_gap_closes_the_mean_difference():
    torch.manual_seed(0)
    image, text = torch.randn(30, 6) + 2, torch.randn(20, 6) - 1
    before = mg.modality_gap(image, text)
    moved_i, moved_t = mg.shift_along_gap(image, text, 1.0, renormalize=False)
    torch.testing.assert_close(moved_i.mean(0), moved_t.mean(0), atol=1e-6, rtol=0)
    # renormalised, the centres are much closer than before, though not exactly together
    moved_i, moved_t = mg.shift_along_gap(image, text, 1.0)
    torch.testing.assert_close(moved_i.norm(dim=1), torch.ones(30))
    assert mg.modality_gap(moved_i, moved_t) < 0.5 * before
    # no shift changes nothing; a negative shift widens the gap
    same_i, same_t = mg.shift_along_gap(image, text, 0.0)
    torch.testing.assert_close(same_i, F.normalize(image, dim=1))
    torch.testing.assert_close(same_t, F.normalize(text, dim=1))
    wide_i, wide_t = mg.shift_along_gap(image, text, -0.5)
    assert mg.modality_gap(wide_i, wide_t) > before


def test_shift_along_a_given_direction():
    image, text = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    moved_i, moved_t = mg.shift_along_gap(image, text, 2.0, delta=torch.tensor([1.0, 0.0]), renormalize=False)
    torch.testing.assert_close(moved_i, torch.tensor([[0.0, 0.0]]))
    torch.testing.assert_close(moved_t, torch.tensor([[1.0, 1.0]]))


def test_pca_2d_shares_one_projection():
    image, text = torch.randn(10, 5) + 3, torch.randn(7, 5) - 3
    a, b = mg.pca_2d(image, text)
    assert a.shape == (10, 2) and b.shape == (7, 2)
    # the first component separates the two groups, which lie on opposite sides of the joint centre
    assert (a[:, 0].mean() > 0) != (b[:, 0].mean() > 0)


def test_matched_cosine_pairs_row_with_row():
    # each image on its own caption: 1; each on the opposite of its caption: -1; unnormalised rows count by direction
    image = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert mg.matched_cosine(image, torch.tensor([[1.0, 0.0], [0.0, 1.0]])) == pytest.approx(1.0)
    assert mg.matched_cosine(image, torch.tensor([[-1.0, 0.0], [0.0, -5.0]])) == pytest.approx(-1.0)
    # pairs at 0 and 60 degrees: (1 + 0.5) / 2, not the mean over every image-caption pair
    text = torch.tensor([[0.0, 1.0], [3 ** 0.5 / 2, 0.5]])
    assert mg.matched_cosine(torch.tensor([[0.0, 1.0], [0.0, 1.0]]), text) == pytest.approx(0.75)


def test_summary_keys():
    s = mg.gap_summary(torch.randn(5, 3), torch.randn(4, 3))
    assert set(s) == {"gap", "cone_cos_image", "cone_cos_text"}


@pytest.mark.parametrize("call, message", [
    (lambda: mg.modality_gap(torch.randn(3), torch.randn(3, 3)), r"image has shape \(3,\)"),
    (lambda: mg.modality_gap(torch.randn(3, 4), torch.randn(3, 5)), r"dimension 4 and text embeddings 5"),
    (lambda: mg.cone_cosine(torch.randn(1, 4)), r"at least 2 embeddings"),
    (lambda: mg.matched_cosine(torch.randn(3, 4), torch.randn(2, 4)), r"shape \(3, 4\) and text embeddings \(2, 4\)"),
    (lambda: mg.cone_cosine(torch.zeros(3, 4)), r"all-zero rows"),
    (lambda: mg.cone_cosine(torch.tensor([[1.0, float("nan")], [0.0, 1.0]])), r"NaN or infinite"),
    (lambda: mg.shift_along_gap(torch.randn(3, 4), torch.randn(3, 4), float("inf")), r"lam=inf is not allowed"),
    (lambda: mg.shift_along_gap(torch.randn(3, 4), torch.randn(3, 4), 1, delta=torch.ones(3)), r"delta has shape"),
    (lambda: mg.check_lambdas([]), r"SHIFT_LAMBDAS=\[\] is not allowed"),
    (lambda: mg.check_lambdas([0.5, 1]), r"include 0"),
    (lambda: mg.check_lambdas([0, "1"]), r"SHIFT_LAMBDAS contains '1'"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_check_lambdas_sorts_and_dedupes():
    assert mg.check_lambdas([1, 0, -0.5, 1]) == [-0.5, 0.0, 1.0]
