r"""spikegate's Loihi emulator: one numba kernel that runs a whole integer network.

The network arrives as plain arrays (``spikegate.export.lava.emulator`` builds them), one row of
``table`` per neuron layer, with the columns named by the ``COL_*`` constants below:

* ``weights`` is one int16 buffer (Loihi's mantissas fit in 9 bits); dense layers keep theirs
  transposed, ``[in, out]``, so that an input spike adds one contiguous row to the int32
  accumulators (event-driven, vectorized);
* conv layers keep PyTorch's ``[out, in/groups, kh, kw]`` and scatter each input spike to the
  outputs it reaches; activity is stored ``[C, H, W]`` flat, so a flatten is free;
* ``bias`` holds ``bias_mant << bias_exp`` per neuron, at ``COL_BIAS``.

Per step and neuron the arithmetic is the integer datapath of
:mod:`spikegate.neurons.loihi` (Lava's ``PyDenseModelBitAcc``/``PyConvModelFixed`` and
``PyLifModelBitAcc``): dense sums shifted by the weight exponent, conv sums wrapped to 24 bits,
the 6-bit MSB alignment, 12-bit decays truncated toward zero, the 24-bit current wrapped once,
the voltage saturated, strict threshold, reset to zero, and every int32 overflow of Lava's
numpy code. Samples run in parallel (``prange``); each starts from rest.
"""

from __future__ import annotations

import numba
import numpy as np

COL_TYPE, COL_NIN, COL_NOUT, COL_WOFF, COL_WEXP, COL_DU, COL_DV, COL_VTH, COL_BIAS, COL_STATE, COL_REC = range(11)
# conv geometry
COL_CIN, COL_HIN, COL_WIN, COL_COUT, COL_HOUT, COL_WOUT, COL_KH, COL_KW = range(11, 19)
COL_SH, COL_SW, COL_PH, COL_PW, COL_DH, COL_DW, COL_GROUPS = range(19, 26)
N_COLS = 26
DENSE, CONV = 0, 1


@numba.njit(inline="always")
def _wrap32(x):
    return np.int64(np.int32(x))


@numba.njit(inline="always")
def _decay(x, factor):
    # x * factor / 4096 truncated toward zero: a negative product is biased by 4095 first
    y = x * factor
    return (y + ((y >> 63) & 4095)) >> 12


@numba.njit(cache=True, nogil=True)
def _conv_scatter(events, n_events, row, weights, acc):
    """acc[out] += the conv contributions of the input spikes ``events[:n_events]``."""
    cin, hin, win = row[COL_CIN], row[COL_HIN], row[COL_WIN]
    cout, hout, wout = row[COL_COUT], row[COL_HOUT], row[COL_WOUT]
    kh, kw, sh, sw = row[COL_KH], row[COL_KW], row[COL_SH], row[COL_SW]
    ph, pw, dh, dw, groups = row[COL_PH], row[COL_PW], row[COL_DH], row[COL_DW], row[COL_GROUPS]
    woff = row[COL_WOFF]
    cin_g = cin // groups
    cout_g = cout // groups
    for e in range(n_events):
        j = events[e]
        c = j // (hin * win)
        y = (j // win) % hin
        x = j % win
        g = c // cin_g
        ci = c - g * cin_g
        for ky in range(kh):
            ny = y + ph - ky * dh
            if ny < 0 or ny % sh != 0 or ny // sh >= hout:
                continue
            oy = ny // sh
            for kx in range(kw):
                nx = x + pw - kx * dw
                if nx < 0 or nx % sw != 0 or nx // sw >= wout:
                    continue
                ox = nx // sw
                for oc in range(g * cout_g, (g + 1) * cout_g):
                    acc[(oc * hout + oy) * wout + ox] += weights[woff + ((oc * cin_g + ci) * kh + ky) * kw + kx]


@numba.njit(cache=True, nogil=True)
def _dense_gather(events, n_events, w2, acc):
    """acc[out] += the rows of ``w2: [in, out]`` of the input spikes, four rows per pass
    (the accumulators are loaded and stored a quarter as often)."""
    n_out = acc.shape[0]
    e = 0
    while e + 4 <= n_events:
        w0, w1, w2_, w3 = w2[events[e]], w2[events[e + 1]], w2[events[e + 2]], w2[events[e + 3]]
        for o in range(n_out):
            acc[o] += (np.int32(w0[o]) + np.int32(w1[o])) + (np.int32(w2_[o]) + np.int32(w3[o]))
        e += 4
    while e < n_events:
        w = w2[events[e]]
        for o in range(n_out):
            acc[o] += w[o]
        e += 1


@numba.njit(cache=True, nogil=True)
def _run_sample(x_b, table, weights, bias, width, spikes_b, u_b, v_b, record_states):
    """One sample from rest: ``x_b: [T, n_in]`` -> ``spikes_b: [T, n_rec]`` (and ``u_b``, ``v_b``).

    The network is feed-forward, so the sample runs layer by layer over all its steps (the
    layer's weights stay in cache); per step, the input spikes are gathered into a list, their
    weight rows summed into the accumulators, and the neurons updated."""
    n_steps, n_in0 = x_b.shape
    s_in = np.zeros((n_steps, width), np.uint8)  # input spikes of the layer
    s_out = np.zeros((n_steps, width), np.uint8)  # its output spikes
    acc = np.empty(width, np.int32)
    events = np.empty(width + 1, np.int64)
    u = np.empty(width, np.int64)
    v = np.empty(width, np.int64)
    s_in[:, :n_in0] = x_b
    for k in range(table.shape[0]):
        row = table[k]
        n_in, n_out = row[COL_NIN], row[COL_NOUT]
        woff = row[COL_WOFF]
        dense = row[COL_TYPE] == DENSE
        rows, cols = (n_in, n_out) if dense else (0, 0)
        w2 = weights[woff:woff + rows * cols].reshape((rows, cols))  # dense: [in, out]
        conv = np.int64(not dense)
        lsh, rsh = max(row[COL_WEXP], 0), max(-row[COL_WEXP], 0)
        fu = 4096 - (row[COL_DU] + 1)
        fv = 4096 - row[COL_DV]
        vth = row[COL_VTH] << 6
        boff, soff, roff = row[COL_BIAS], row[COL_STATE], row[COL_REC]
        u[:n_out] = 0
        v[:n_out] = 0
        for t in range(n_steps):
            n_events = 0
            s_t = s_in[t]
            for j in range(n_in):  # branch-free compaction: always write, advance on a spike
                events[n_events] = j
                n_events += s_t[j]
            acc[:n_out] = 0
            if dense:
                _dense_gather(events, n_events, w2, acc[:n_out])
            else:
                _conv_scatter(events, n_events, row, weights, acc)
            f_t = s_out[t]
            # branch-free, so that the loop over neurons vectorizes
            for o in range(n_out):
                a = (np.int64(acc[o]) << lsh) >> rsh
                a = conv * (((a + (1 << 23)) & ((1 << 24) - 1)) - (1 << 23)) + (1 - conv) * a
                act = _wrap32(_wrap32(a) << 6)
                c = _wrap32(_decay(u[o], fu) + act)
                un = c - (np.int64(c > (1 << 23)) << 24) + (np.int64(c <= -(1 << 23)) << 24)
                vn = _wrap32(_decay(v[o], fv) + un + bias[boff + o])
                vn = min(max(vn, -(1 << 23) + 1), (1 << 23) - 1)
                s = np.int64(vn > vth)
                u[o] = un
                v[o] = vn * (1 - s)
                f_t[o] = s
            if roff >= 0:
                spikes_b[t, roff:roff + n_out] = f_t[:n_out]
            if record_states:
                u_b[t, soff:soff + n_out] = u[:n_out]
                v_b[t, soff:soff + n_out] = v[:n_out]
        s_in, s_out = s_out, s_in


@numba.njit(parallel=True, cache=True, nogil=True)
def run_network(x, table, weights, bias, n_state, spikes_out, u_out, v_out, record_states):
    """Run every sample of ``x: [B, T, n_in]`` (uint8 0/1) through the network, each from rest.

    ``weights`` int16, ``bias`` int64 (``bias_mant << bias_exp``), ``table`` int64.
    ``spikes_out: [B, T, n_rec]`` receives the spikes of the layers with ``table[k, COL_REC]
    >= 0`` at that offset; with ``record_states`` the current and voltage of every neuron go to
    ``u_out``/``v_out: [B, T, n_state]`` (int32) at ``table[k, COL_STATE]`` (else they are
    ``[1, 1, 1]`` placeholders).
    """
    width = x.shape[2]
    for k in range(table.shape[0]):
        width = max(width, table[k, COL_NOUT])
    last = u_out.shape[0] - 1
    for b in numba.prange(x.shape[0]):
        s = min(np.int64(b), last)
        _run_sample(x[b], table, weights, bias, width, spikes_out[b], u_out[s], v_out[s], record_states)
