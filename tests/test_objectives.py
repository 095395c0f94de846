"""The bag-of-words and captioning heads, their zero-shot scoring, and the shared training loop."""

import pytest
import torch
import torch.nn.functional as F

import clipbook
from clipbook import objectives as obj
from clipbook.data import a


@pytest.fixture(scope="module")
def vocab():
    return obj.WordVocab(["a red circle", "two blue stars", "a photo of a red circle"])


def test_vocab_encodes_and_bags(vocab):
    ids = vocab.encode(["a red circle"], length=6)[0].tolist()
    assert ids[0] == vocab.BOS and ids[4] == vocab.EOS and ids[5] == vocab.PAD
    assert [vocab.words[i] for i in ids[1:4]] == ["a", "red", "circle"]
    bag = vocab.bag(["a red circle", "purple circle"])
    assert bag[0].sum() == 3 and bag[1].sum() == 1  # unknown "purple" is not a word of the bag
    assert vocab.ids("purple")[0] == vocab.UNK
    with pytest.raises(ValueError, match="more than length=3"):
        vocab.encode(["a red circle"], length=3)


def test_bag_of_words_score_is_mean_word_log_probability(vocab):
    torch.manual_seed(0)
    model = obj.BagOfWords("clipbook-tiny", vocab).eval()
    pixels = torch.randn(2, 3, 32, 32)
    prompts = model.encode_texts(["a red circle", "two blue stars"])
    scores = model.scores(pixels, prompts)
    log_p = F.logsigmoid(model.head(model.visual(pixels)))
    for j, text in enumerate(["a red circle", "two blue stars"]):
        expected = log_p[:, vocab.ids(text)].mean(1)
        assert torch.allclose(scores[:, j], expected, atol=1e-5)


def test_captioning_score_is_the_caption_log_likelihood(vocab):
    torch.manual_seed(0)
    model = obj.Captioning("clipbook-tiny", vocab, length=8).eval()
    pixels = torch.randn(2, 3, 32, 32)
    texts = ["a red circle", "two blue stars", "a photo of a red circle"]
    prompts = model.encode_texts(texts)
    scores = model.scores(pixels, prompts)
    for i in range(2):
        for j, text in enumerate(texts):
            tokens = prompts[j:j + 1]
            n = len(vocab.ids(text)) + 1  # the words and <eos>
            with torch.no_grad():
                nll = model.loss(pixels[i:i + 1], tokens).item()  # mean over predicted tokens
            assert scores[i, j].item() == pytest.approx(-nll * n, rel=1e-4)


def test_captioning_decoder_is_causal(vocab):
    torch.manual_seed(0)
    model = obj.Captioning("clipbook-tiny", vocab, length=8).eval()
    pixels = torch.randn(1, 3, 32, 32)
    a_tokens = model.encode_texts(["a red circle"])
    b_tokens = model.encode_texts(["a red stars"])
    with torch.no_grad():
        memory = model._memory(pixels)
        la, lb = model._logits(memory, a_tokens), model._logits(memory, b_tokens)
    assert torch.allclose(la[:, :3], lb[:, :3], atol=1e-5)  # positions before the changed word agree
    assert not torch.allclose(la[:, 3], lb[:, 3])


def test_train_objective_runs_caches_and_checks(tmp_data):
    world = clipbook.ShapesWorld(32)
    train = world.dataset(64, "train", seed=0, cache=False)
    test = world.class_dataset(1, seed=1, cache=False)
    prompts = [f"a photo of {a(n)}" for n in world.class_names]
    kw = dict(samples=64, batch_size=16, n_evals=2, device="cpu", progress=False)
    for name in obj.OBJECTIVES:
        r = obj.train_objective(name, train.images, train.all_captions(), test.images, test.labels, prompts, **kw)
        assert isinstance(r, clipbook.TrainResult) and r.history["step"] == [0, 1, 2, 3]  # the engine's result
        curve = r.evaluations
        assert curve["samples"] == [16, 64] and curve["step"] == [1, 4] and len(curve["accuracy"]) == 2
        assert all(0 <= x <= 1 for x in curve["accuracy"]) and not r.loaded
        # the curve's loss is the mean training loss since the previous evaluation, from the per-step history
        assert curve["loss"] == pytest.approx([r.history["loss"][0], sum(r.history["loss"][1:]) / 3])
        again = obj.train_objective(name, train.images, train.all_captions(), test.images, test.labels, prompts, **kw)
        assert again.loaded and again.evaluations == curve
        for (k, x), y in zip(r.model.state_dict().items(), again.model.state_dict().values()):
            assert torch.equal(x, y), k
    with pytest.raises(ValueError, match="objective='lm' is not allowed"):
        obj.train_objective("lm", train.images, train.all_captions(), test.images, test.labels, prompts, **kw)
    with pytest.raises(ValueError, match="samples=16 is not allowed"):
        obj.train_objective("contrastive", train.images, train.all_captions(), test.images, test.labels, prompts,
                            **{**kw, "samples": 16})


@pytest.mark.parametrize("name", obj.OBJECTIVES)
def test_each_objective_learns_far_above_chance(name, tmp_data):
    """6,144 samples of single-object scenes (10-25 s each) take every objective far above chance (1/36) on
    the colour-shape classes of the same world; an objective whose head or tower never updated stays near it.
    Measured with issue 12's clipbook-tiny (8-px patches), seeds 0 / 1: contrastive 0.37 / 0.32, bag of words
    0.30 / 0.25, captioning 0.30 / 0.28 (the first evaluation, after 32 samples, sits at chance). With 4,096
    samples bag of words reached only 0.09 / 0.11, hence 6,144. The bar is 3x chance."""
    world = clipbook.ShapesWorld(32)
    train = world.dataset(512, "train", seed=0, cache=False, mix={"single": 1.0})
    test = world.class_dataset(3, seed=1, cache=False)
    prompts = [f"a photo of {a(n)}" for n in world.class_names]
    r = obj.train_objective(name, train.images, train.all_captions(), test.images, test.labels, prompts,
                            samples=6144, batch_size=32, lr=1e-3, n_evals=2, device="cpu", progress=False,
                            cache=False)
    first, last = r.evaluations["accuracy"][0], r.evaluations["accuracy"][-1]
    assert last >= 3 / 36 and last > first, (first, last)


def test_samples_to_target_and_ratios():
    assert obj.samples_to([100, 200, 300], [0.1, 0.3, 0.5], 0.2) == pytest.approx(150)
    assert obj.samples_to([100, 200, 300], [0.1, 0.3, 0.5], 0.05) == 100
    assert obj.samples_to([100, 200, 300], [0.1, 0.3, 0.5], 0.6) is None
    assert obj.ratio(400, 100) == 4 and obj.ratio(None, 100) is None and obj.ratio(100, None) is None
