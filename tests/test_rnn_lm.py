"""The character-level language model: the provided parts (solutions/rnn/rnn_lm.py: the
poems and the vocabulary, temporal affine, Adam, clipping by norm, generation, the
quatrain-shape measure and the bigram baseline) and the reference answers of the two
notebook TODOs it uses (temporal_softmax_loss against numeric gradients, sample_next);
then the whole model of the notebook through the reference layers."""
import nbformat
import numpy as np
import pytest

from conftest import ROOT
from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from rnn_layers import (rnn_backward, rnn_forward, word_embedding_backward,
                        word_embedding_forward)
from rnn_lm import (BOUNDARY, UNKNOWN, Bigram, Vocabulary, adam_update, clip_by_norm, generate,
                    has_quatrain_shape, load_quatrains, stream_rows,
                    temporal_affine_backward, temporal_affine_forward, texts_of)

NOTEBOOK = ROOT / "source_notebooks" / "rnn" / "RNN.ipynb"
QUATRAINS = ROOT / "source_notebooks" / "rnn" / "data" / "tang-quatrains" / "quatrains.tsv"


def _notebook_cell(cell_id: str) -> dict:
    """The names a code cell of the source notebook defines (its solution included), with
    the setup cell's `todo` decorator as a pass-through."""
    cell = next(c for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.get("id") == cell_id)
    namespace = {"np": np, "todo": lambda function: function}
    exec(compile(cell.source, f"RNN.ipynb cell {cell_id}", "exec"), namespace)
    return namespace


temporal_softmax_loss = _notebook_cell("temporal_softmax_loss")["temporal_softmax_loss"]
_SAMPLER = _notebook_cell("sample_next")
sample_next, UNKNOWN_INDEX = _SAMPLER["sample_next"], _SAMPLER["UNKNOWN_INDEX"]


def sample(step, h0, num_steps, temperature, rng, prefix=None):
    """generate() with the reference sample_next at `temperature`."""
    return generate(step, lambda scores: sample_next(scores, temperature, rng), h0, num_steps,
                    prefix)
GRAD_TOL = 1e-7
POEM = "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"  # 24 characters


def _affine_inputs(rng, N=2, T=3, H=4, V=5, dtype=np.float64, time_major=False):
    """h (N, T, H), W (H, V), b (V,). time_major: h is a (N, T, H) view of a (T, N, H)
    array, as the reference rnn_forward returns it."""
    h = rng.standard_normal((T, N, H)).transpose(1, 0, 2) if time_major else \
        rng.standard_normal((N, T, H))
    W, b = rng.standard_normal((H, V)), rng.standard_normal(V)
    return h.astype(dtype, copy=False), W.astype(dtype), b.astype(dtype)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---- the poems and the vocabulary -----------------------------------------------------

def test_load_quatrains_reads_the_poem_column_after_the_header(tmp_path):
    path = tmp_path / "poems.tsv"
    path.write_text("title\tauthor\tpoem\n一\t甲\t" + POEM + "\n\n二\t乙\t白日依山盡\n",
                    encoding="utf-8")
    assert load_quatrains(path) == [POEM, "白日依山盡"]


def test_the_shipped_poems_are_all_quatrains():
    poems = load_quatrains(QUATRAINS)
    assert len(poems) == 3885
    assert all(has_quatrain_shape(p) for p in poems)


def test_vocabulary_boundary_unknown_then_most_frequent_first():
    vocab = Vocabulary(["abca", "ab", "c\n□"], min_count=2)
    # a: 3, b: 2, c: 2 (tie broken by the character), \n and □ never counted twice
    assert vocab.chars == [BOUNDARY, UNKNOWN, "a", "b", "c"] and len(vocab) == 5
    encoded = vocab.encode("abcz")
    assert encoded.dtype == np.int64
    np.testing.assert_array_equal(encoded, [2, 3, 4, 1])  # z: unknown
    assert vocab.decode([2, 3, 0]) == "ab\n"
    assert Vocabulary(["abca", "ab"], min_count=3).chars == [BOUNDARY, UNKNOWN, "a"]


def test_sequences_are_the_poem_shifted_by_one_with_boundaries():
    poems = [POEM, "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"]
    vocab = Vocabulary(poems)
    x, y = vocab.sequences(poems)
    assert x.shape == y.shape == (2, 25) and x.dtype == y.dtype == np.int64
    assert np.all(x[:, 0] == 0) and np.all(y[:, -1] == 0)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert [vocab.decode(row[:-1]) for row in y] == poems


def test_stream_holds_the_pairs_of_the_sequences_in_order():
    poems = [POEM, "白日依山盡，黃河入海流。欲窮千里目，更上一層樓。"]
    vocab = Vocabulary(poems)
    stream = vocab.stream(poems)
    assert stream.dtype == np.int64 and len(stream) == 2 * 25 + 1
    assert vocab.decode(stream) == "\n" + POEM + "\n" + poems[1] + "\n"
    x, y = vocab.sequences(poems)
    np.testing.assert_array_equal(stream[:-1], x.ravel())
    np.testing.assert_array_equal(stream[1:], y.ravel())


@pytest.mark.parametrize("length, num_rows", [(11, 2), (12, 2), (10, 3), (2, 1)])
def test_stream_rows_are_consecutive_pieces_with_targets_one_step_ahead(length, num_rows):
    stream = np.arange(length) * 10
    x, y = stream_rows(stream, num_rows)
    L = (length - 1) // num_rows
    assert x.shape == y.shape == (num_rows, L)
    np.testing.assert_array_equal(x.ravel(), stream[:num_rows * L])  # row after row
    np.testing.assert_array_equal(y, x + 10)  # the next character of every input


def test_stream_rows_chunks_continue_each_row():
    x, _ = stream_rows(np.arange(41), 4)  # rows of 10 steps
    first, second = x[:, 0:5], x[:, 5:10]
    np.testing.assert_array_equal(second[:, 0], first[:, -1] + 1)


def test_stream_rows_refuses_a_stream_too_short_for_its_rows():
    with pytest.raises(ValueError, match=r"stream_rows: a stream of 3 indices .* needs 5"):
        stream_rows(np.arange(3), 4)


# ---- temporal affine -------------------------------------------------------------------

@pytest.mark.parametrize("time_major", [False, True])
def test_temporal_affine_forward_is_one_affine_map_per_step(rng, time_major):
    h, W, b = _affine_inputs(rng, time_major=time_major)
    scores, _ = temporal_affine_forward(h, W, b)
    assert scores.shape == (2, 3, 5)
    np.testing.assert_allclose(scores, np.einsum("nth,hv->ntv", h, W) + b, rtol=1e-12)


@pytest.mark.parametrize("time_major", [False, True])
def test_temporal_affine_backward_matches_numeric_gradients(rng, time_major):
    h, W, b = _affine_inputs(rng, time_major=time_major)
    dscores = rng.standard_normal((2, 3, 5))
    dh, dW, db = temporal_affine_backward(dscores, temporal_affine_forward(h, W, b)[1])
    for name, analytic, wrt in (("dh", dh, h), ("dW", dW, W), ("db", db, b)):
        numeric = eval_numerical_gradient_array(
            lambda _: temporal_affine_forward(h, W, b)[0], wrt, dscores)
        assert analytic.shape == wrt.shape, name
        assert rel_error(numeric, analytic) < GRAD_TOL, name


def test_temporal_affine_keeps_float32(rng):
    h, W, b = _affine_inputs(rng, dtype=np.float32, time_major=True)
    scores, cache = temporal_affine_forward(h, W, b)
    assert scores.dtype == np.float32
    dh, dW, db = temporal_affine_backward(np.ones_like(scores), cache)
    assert dh.dtype == dW.dtype == db.dtype == np.float32
    np.testing.assert_allclose(db, np.full(5, 6.0))  # N T = 6 positions, each adds 1


# ---- temporal softmax loss -------------------------------------------------------------

def test_temporal_softmax_loss_is_the_mean_cross_entropy(rng):
    scores = rng.standard_normal((2, 3, 5))
    y = rng.integers(5, size=(2, 3))
    loss, dscores = temporal_softmax_loss(scores, y)
    probs = _softmax(scores)
    expected = -np.mean(np.log(np.take_along_axis(probs, y[..., None], axis=2)))
    assert isinstance(loss, float) and loss == pytest.approx(expected, rel=1e-12)
    onehot = np.eye(5)[y]
    np.testing.assert_allclose(dscores, (probs - onehot) / 6, rtol=1e-10, atol=1e-15)


def test_temporal_softmax_loss_of_equal_scores_is_log_V():
    loss, dscores = temporal_softmax_loss(np.zeros((3, 4, 7)), np.zeros((3, 4), dtype=int))
    assert loss == pytest.approx(np.log(7), rel=1e-12)
    np.testing.assert_allclose(dscores.sum(axis=2), 0, atol=1e-15)  # every row sums to 0


def test_temporal_softmax_loss_matches_numeric_gradient(rng):
    scores = rng.standard_normal((2, 3, 4))
    y = rng.integers(4, size=(2, 3))
    _, dscores = temporal_softmax_loss(scores, y)
    numeric = eval_numerical_gradient(lambda s: temporal_softmax_loss(s, y)[0], scores)
    assert rel_error(numeric, dscores) < GRAD_TOL


def test_temporal_softmax_loss_is_stable_for_large_scores(rng):
    scores = rng.standard_normal((2, 3, 4))
    y = rng.integers(4, size=(2, 3))
    offsets = rng.choice([-1e4, 1e4, 5e3], size=(2, 3, 1))  # rows thousands apart
    loss, dscores = temporal_softmax_loss(scores, y)
    big_loss, big_dscores = temporal_softmax_loss(scores + offsets, y)
    assert np.isfinite(big_loss) and np.all(np.isfinite(big_dscores))
    # a constant added to a row changes nothing
    assert big_loss == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(big_dscores, dscores, atol=1e-9)


def test_temporal_softmax_loss_keeps_float32(rng):
    scores = rng.standard_normal((2, 3, 4)).astype(np.float32)
    loss, dscores = temporal_softmax_loss(scores, np.zeros((2, 3), dtype=np.int64))
    assert dscores.dtype == np.float32 and isinstance(loss, float)


# ---- Adam ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_update_in_place_against_the_paper(rng, dtype):
    w = rng.standard_normal((3, 4)).astype(dtype)
    start = w.copy()
    params, state = {"w": w}, {}
    grads = [rng.standard_normal((3, 4)).astype(dtype) for _ in range(3)]
    lr, beta1, beta2, eps = 1e-2, 0.9, 0.999, 1e-8
    expected, m, v = start.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        adam_update(params, {"w": g}, state, lr)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        # Kingma & Ba's efficient form: alpha_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
        alpha = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        expected = expected - alpha * m / (np.sqrt(v) + eps)
        if t == 1:  # the first bias-corrected step moves every entry by lr against the gradient
            np.testing.assert_allclose(params["w"] - start, -lr * np.sign(g), rtol=1e-3)
    assert params["w"] is w and w.dtype == dtype  # updated in place, dtype kept
    assert state["t"] == 3
    np.testing.assert_allclose(w, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


# ---- sampling --------------------------------------------------------------------------

def _toy_step(V=6, H=4, seed=0):
    """A fixed small recurrent model: step(prev (N,), h (N, H)) -> (scores (N, V), h)."""
    g = np.random.default_rng(seed)
    E, Wh, Wv = g.standard_normal((V, H)), g.standard_normal((H, H)), g.standard_normal((H, V))
    first_prev = []

    def step(prev, h):
        if not first_prev:
            first_prev.append(prev.copy())
        h = np.tanh(E[prev] + h @ Wh)
        return h @ Wv, h

    return step, first_prev


def test_sample_shape_range_and_start_from_boundary():
    step, first_prev = _toy_step()
    out = sample(step, np.zeros((5, 4)), 7, 1.0, np.random.default_rng(0))
    assert out.shape == (5, 7) and out.dtype == np.int64
    assert out.min() >= 0 and out.max() < 6
    np.testing.assert_array_equal(first_prev[0], np.zeros(5))  # every row starts at BOUNDARY


def test_sample_is_deterministic_given_the_seed():
    draws = [sample(_toy_step()[0], np.zeros((8, 4)), 10, 1.0, np.random.default_rng(seed))
             for seed in (3, 3, 4)]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sample_draws_from_the_softmax_of_scores_over_temperature_without_unknown(temperature):
    scores = np.array([1.0, 4.0, 0.0, -1.0, 2.0])  # the unknown symbol (index 1) scores best
    out = sample(lambda prev, h: (np.tile(scores, (len(prev), 1)), h), np.zeros((40000, 1)), 1,
                 temperature, np.random.default_rng(1))
    frequencies = np.bincount(out[:, 0], minlength=5) / len(out)
    expected = _softmax(np.delete(scores, UNKNOWN_INDEX) / temperature)
    # 40 000 draws: one standard deviation of a frequency is at most 0.0025
    assert frequencies[UNKNOWN_INDEX] == 0
    np.testing.assert_allclose(np.delete(frequencies, UNKNOWN_INDEX), expected, atol=0.01)


def test_unknown_is_the_vocabularys_index_of_the_unknown_symbol():
    assert Vocabulary(["ab"]).index[UNKNOWN] == UNKNOWN_INDEX


def test_sample_at_a_tiny_temperature_takes_the_best_score_but_never_unknown():
    scores = np.array([[0.0, 9.0, 3.0, 2.9], [5.0, 1.0, 0.0, 4.99]], dtype=np.float32)
    kept = scores.copy()
    out = sample(lambda prev, h: (scores, h), np.zeros((2, 1)), 3, 1e-4,
                 np.random.default_rng(0))
    np.testing.assert_array_equal(out, [[2, 2, 2], [0, 0, 0]])
    np.testing.assert_array_equal(scores, kept)  # the scores are not changed


def test_generate_reads_the_prefix_then_draws():
    step, _ = _toy_step()
    fed = []

    def recording(prev, h):
        fed.append(prev.copy())
        return step(prev, h)

    prefix = np.array([[2, 3], [4, 5]])
    out = generate(recording, lambda scores: np.full(len(scores), 5), np.zeros((2, 4)), 3, prefix)
    np.testing.assert_array_equal(out, [[2, 3, 5, 5, 5], [4, 5, 5, 5, 5]])
    # teacher forcing: BOUNDARY, then the prefix's characters, then the drawn ones
    np.testing.assert_array_equal(np.array(fed)[:, 0], [0, 2, 3, 5, 5])


@pytest.mark.parametrize("max_norm, factor", [(1.0, 0.2), (10.0, 1.0)])
def test_clip_by_norm_scales_every_gradient_by_one_factor(rng, max_norm, factor):
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[0.0], [4.0]], dtype=np.float32)}
    clipped = clip_by_norm(grads, max_norm)  # joint norm 5
    for key in grads:
        np.testing.assert_allclose(clipped[key], factor * grads[key], rtol=1e-6)
        assert clipped[key].dtype == grads[key].dtype
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # the given arrays are unchanged


def test_texts_of_stops_at_the_first_boundary():
    vocab = Vocabulary(["ab"])  # \n □ a b
    indices = np.array([[2, 3, 0, 2], [2, 2, 2, 2], [0, 3, 3, 0]])
    assert texts_of(indices, vocab) == ["ab", "aaaa", ""]


# ---- the quatrain shape ----------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    (POEM, True),
    (POEM + "\n", False),                                   # trailing end marker kept
    (POEM[:12], False),                                     # one couplet only
    (POEM + POEM[:12], False),                              # three couplets
    (POEM[:-1], False),                                     # final 。 missing
    (POEM.replace("，", ","), False),                       # ASCII comma
    (POEM[:17] + "。" + POEM[18:], False),                  # 。 where ， belongs
    ("朝辭白帝彩雲間，千里江陵一日還。兩岸猿聲啼不住，輕舟已過萬重山。", False),  # 7 characters
    ("床前明月光疑，是地上霜。舉頭望明月，低頭思故鄉。", False),  # 6 then 4
])
def test_has_quatrain_shape(text, expected):
    assert has_quatrain_shape(text) is expected


# ---- the bigram baseline ---------------------------------------------------------------

def test_bigram_on_a_cycle_by_hand():
    x, y = np.array([[0, 1, 2]]), np.array([[1, 2, 0]])  # 0 -> 1 -> 2 -> 0
    bigram = Bigram(x, y, V=4, lam=0.9)
    np.testing.assert_allclose(np.exp(bigram.log_probs).sum(axis=1), 1, rtol=1e-12)
    unigram = np.array([2, 2, 2, 1]) / 7  # add-one counts of the targets / (3 + V)
    # the next character is certain: P = lam + (1 - lam) P_unigram
    assert bigram.perplexity(x, y) == pytest.approx(1 / (0.9 + 0.1 * 2 / 7), rel=1e-12)
    # backwards every pair is unseen: P = (1 - lam) P_unigram
    assert bigram.perplexity(y, x) == pytest.approx(1 / (0.1 * 2 / 7), rel=1e-12)
    # 3 never came before anything: its row is the unigram distribution
    np.testing.assert_allclose(np.exp(bigram.log_probs[3]), unigram, rtol=1e-12)


def test_bigram_on_held_out_poems_beats_the_uniform_guess():
    poems = load_quatrains(QUATRAINS)
    vocab = Vocabulary(poems[:3500], min_count=3)
    x, y = vocab.sequences(poems[:3500])
    x_held, y_held = vocab.sequences(poems[3500:])
    bigram = Bigram(x, y, len(vocab), lam=0.5)
    train, held = bigram.perplexity(x, y), bigram.perplexity(x_held, y_held)
    assert 1 < train < held < len(vocab) / 2


# ---- the notebook's model through the reference layers ---------------------------------

def _lm_loss(p, x, y):
    """The notebook's sequence_loss: embedding -> rnn -> temporal affine -> softmax loss."""
    emb, emb_cache = word_embedding_forward(x, p["W_embed"])
    h0 = np.zeros((x.shape[0], p["Wh"].shape[0]), dtype=p["Wh"].dtype)
    h, rnn_cache = rnn_forward(emb, h0, p["Wx"], p["Wh"], p["b"])
    scores, affine_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = temporal_softmax_loss(scores, y)
    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, affine_cache)
    demb, _, grads["Wx"], grads["Wh"], grads["b"] = rnn_backward(dh, rnn_cache)
    grads["W_embed"] = word_embedding_backward(demb, emb_cache)
    return loss, grads


def test_language_model_gradients_through_the_reference_layers(rng):
    V, D, H = 6, 3, 4
    p = {"W_embed": rng.standard_normal((V, D)), "Wx": rng.standard_normal((D, H)),
         "Wh": 0.5 * rng.standard_normal((H, H)), "b": rng.standard_normal(H),
         "W_vocab": rng.standard_normal((H, V)), "b_vocab": rng.standard_normal(V)}
    x, y = rng.integers(V, size=(2, 5)), rng.integers(V, size=(2, 5))
    _, grads = _lm_loss(p, x, y)
    for name, param in p.items():
        numeric = eval_numerical_gradient(lambda _: _lm_loss(p, x, y)[0], param)
        assert grads[name].shape == param.shape, name
        assert rel_error(numeric, grads[name]) < GRAD_TOL, name
