r"""spikegate's Loihi emulator: one numba kernel that runs a whole integer network.

The network arrives as plain arrays (``spikegate.export.lava.emulator`` builds them), one row of
``table`` per neuron layer, with the columns named by the ``COL_*`` constants below:

* dense layers keep their weights transposed, ``[in, out]`` flat, so that each input spike
  adds one contiguous row to the int32 accumulators (event-driven, vectorizable);
* conv layers keep PyTorch's ``[out, in/groups, kh, kw]`` and scatter each input spike to the
  outputs it reaches; activity is stored ``[C, H, W]`` flat, so a flatten is free;
* ``bias`` holds ``bias_mant << bias_exp`` per neuron, at ``COL_BIAS``.

Per step and layer the arithmetic is the integer datapath of
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
    y = x * factor
    return (y >> 12) if y >= 0 else -((-y) >> 12)


@numba.njit(cache=True, nogil=True)
def _conv_scatter(events, n_events, row, weights, acc):
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
            if ny < 0 or ny % sh != 0:
                continue
            oy = ny // sh
            if oy >= hout:
                continue
            for kx in range(kw):
                nx = x + pw - kx * dw
                if nx < 0 or nx % sw != 0:
                    continue
                ox = nx // sw
                if ox >= wout:
                    continue
                for oc in range(g * cout_g, (g + 1) * cout_g):
                    acc[(oc * hout + oy) * wout + ox] += weights[woff + ((oc * cin_g + ci) * kh + ky) * kw + kx]


@numba.njit(parallel=True, cache=True, nogil=True)
def run_network(x, table, weights, bias, n_state, spikes_out, u_out, v_out, record_states):
    """Run every sample of ``x: [B, T, n_in]`` (uint8 0/1) through the network.

    ``spikes_out: [B, T, n_rec]`` receives the spikes of the layers with ``table[k, COL_REC]
    >= 0`` at that offset; with ``record_states`` the current and voltage of every neuron go to
    ``u_out``/``v_out: [B, T, n_state]`` (int32) at ``table[k, COL_STATE]``.
    """
    n_batch, n_steps, n_in0 = x.shape
    n_layers = table.shape[0]
    width = n_in0
    for k in range(n_layers):
        width = max(width, table[k, COL_NOUT])
    for b in numba.prange(n_batch):
        u = np.zeros(n_state, np.int64)
        v = np.zeros(n_state, np.int64)
        acc = np.zeros(width, np.int32)
        events = np.empty(width, np.int64)
        fired = np.empty(width, np.int64)
        for t in range(n_steps):
            n_events = 0
            for j in range(n_in0):
                if x[b, t, j] != 0:
                    events[n_events] = j
                    n_events += 1
            for k in range(n_layers):
                row = table[k]
                n_out = row[COL_NOUT]
                woff = row[COL_WOFF]
                acc[:n_out] = 0
                if row[COL_TYPE] == DENSE:
                    for e in range(n_events):
                        base = woff + events[e] * n_out
                        for o in range(n_out):
                            acc[o] += weights[base + o]
                else:
                    _conv_scatter(events, n_events, row, weights, acc)
                is_conv = row[COL_TYPE] == CONV
                wexp = row[COL_WEXP]
                fu = 4096 - (row[COL_DU] + 1)
                fv = 4096 - row[COL_DV]
                vth = row[COL_VTH] << 6
                boff, soff, roff = row[COL_BIAS], row[COL_STATE], row[COL_REC]
                n_fired = 0
                for o in range(n_out):
                    a = np.int64(acc[o])
                    if is_conv:
                        a = ((a + (1 << 23)) & ((1 << 24) - 1)) - (1 << 23)
                    elif wexp > 0:
                        a = a << wexp
                    else:
                        a = a >> (-wexp)
                    act = _wrap32(_wrap32(a) << 6)
                    c = _wrap32(_decay(u[soff + o], fu) + act)
                    if c > (1 << 23):
                        un = c - (1 << 24)
                    elif c <= -(1 << 23):
                        un = c + (1 << 24)
                    else:
                        un = c
                    vn = _wrap32(_decay(v[soff + o], fv) + un + bias[boff + o])
                    vn = min(max(vn, -(1 << 23) + 1), (1 << 23) - 1)
                    u[soff + o] = un
                    if vn > vth:
                        vn = 0
                        fired[n_fired] = o
                        n_fired += 1
                        if roff >= 0:
                            spikes_out[b, t, roff + o] = 1
                    v[soff + o] = vn
                    if record_states:
                        u_out[b, t, soff + o] = un
                        v_out[b, t, soff + o] = vn
                events, fired = fired, events
                n_events = n_fired
