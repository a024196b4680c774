"""Tempotron: kernel normalization, exact voltage, shunting, the rule on single patterns, learning."""

import numpy as np
import pytest

from spikegate.plasticity.tempotron import SpikePatterns, Tempotron, psp_kernel, psp_norm, random_patterns


def test_kernel_peak_is_one_at_6_93_ms():
    assert psp_norm(15.0, 3.75) == pytest.approx(2.1165, abs=1e-4)
    s = np.linspace(0, 50, 500_001)
    k = psp_kernel(s)
    assert k.max() == pytest.approx(1.0, abs=1e-9)
    assert s[k.argmax()] == pytest.approx(15 * 3.75 / (15 - 3.75) * np.log(4), abs=1e-4)
    assert s[k.argmax()] == pytest.approx(6.93, abs=0.01)
    assert psp_kernel(np.array([-1.0, 0.0]))[0] == 0.0


def pattern(times, units):
    return SpikePatterns.from_events([np.array(times, float)], [np.array(units)])


def test_voltage_equals_sum_of_kernels_on_the_grid():
    rng = np.random.default_rng(0)
    pats = random_patterns(3, 20, 100.0, rng=rng)
    tp = Tempotron(20, duration=100.0, dt=0.25, threshold=1e9, weights=rng.normal(0, 0.3, 20))
    v = tp.voltage(pats)
    grid = np.arange(v.shape[1]) * 0.25
    want = np.stack([(tp.w[u][None, :] * psp_kernel(grid[:, None] - t[None, :])).sum(1)
                     for t, u in zip(pats.times, pats.units)])
    np.testing.assert_allclose(v, want, atol=1e-12)


def test_shunting_ignores_inputs_after_the_first_crossing():
    tp = Tempotron(2, duration=60.0, dt=0.1, weights=np.array([1.5, 1.0]))
    p = pattern([5.0, 30.0], [0, 1])
    v = tp.voltage(p)[0]
    grid = np.arange(v.size) * 0.1
    np.testing.assert_allclose(v, 1.5 * psp_kernel(grid - 5.0), atol=1e-12)  # the 30 ms input never arrives
    fired, t_max, v_max = tp.decide(p)
    assert fired[0] and 5.0 < t_max[0] < 5.0 + 6.93 and v_max[0] >= 1.0


@pytest.mark.parametrize("label, w0", [(True, 0.2), (False, 1.6)])
def test_one_update_moves_v_tmax_toward_the_right_side(label, w0):
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, 200, 12))
    p = pattern(times, np.arange(12))
    tp = Tempotron(12, duration=200.0, dt=0.1, lr=0.05, momentum=0.0, weights=np.full(12, w0), rng=rng)
    fired, t_max, v_before = tp.decide(p)
    assert fired[0] != label  # an error: a missed ⊕ pattern or a ⊖ false alarm
    w_before = tp.w.copy()
    assert tp.train_epoch(p, np.array([label])) == 1
    expected = 0.05 * psp_kernel(t_max[0] - times) * (1 if label else -1)
    np.testing.assert_allclose(tp.w - w_before, expected, atol=1e-12)
    v_after = (tp.w * psp_kernel(t_max[0] - times)).sum()
    assert (v_after > v_before[0]) if label else (v_after < v_before[0])


def test_correct_patterns_leave_weights_alone():
    tp = Tempotron(3, duration=50.0, weights=np.array([0.1, 0.1, 0.1]))
    p = pattern([1.0, 2.0, 3.0], [0, 1, 2])
    assert tp.train_epoch(p, np.array([False])) == 0
    np.testing.assert_array_equal(tp.w, [0.1, 0.1, 0.1])


def test_learns_a_random_classification_below_capacity():
    rng = np.random.default_rng(2)
    pats = random_patterns(60, 100, 200.0, rng=rng)
    labels = rng.random(60) < 0.5
    tp = Tempotron(100, duration=200.0, dt=0.5, lr=3e-3, momentum=0.9, rng=rng)
    history = tp.fit(pats, labels, epochs=300)
    assert history[-1] == 0 and history[0] > 0
    np.testing.assert_array_equal(tp.predict(pats), labels)


def test_from_raster_matches_events():
    r = np.zeros((1, 5, 3), np.uint8)
    r[0, 1, 2] = r[0, 3, 0] = 1
    p = SpikePatterns.from_raster(r, dt=2.0)
    np.testing.assert_array_equal(p.times[0], [2.0, 6.0])
    np.testing.assert_array_equal(p.units[0], [2, 0])


def test_bad_input():
    with pytest.raises(ValueError, match="tau_s must be smaller"):
        psp_norm(3.0, 5.0)
    with pytest.raises(ValueError, match="momentum"):
        Tempotron(3, momentum=1.0)
    with pytest.raises(ValueError, match="afferent 5"):
        Tempotron(3).decide(pattern([1.0], [5]))
    with pytest.raises(ValueError, match="labels"):
        Tempotron(3).train_epoch(pattern([1.0], [0]), np.array([True, False]))
    with pytest.raises(ValueError, match="finite and >= 0"):
        pattern([-1.0], [0])
    with pytest.raises(TypeError, match="SpikePatterns"):
        Tempotron(3).decide(np.zeros((1, 3)))
