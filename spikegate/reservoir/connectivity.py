r"""Sparse synapses (CSR by presynaptic neuron), random connectivity, Dale's law, delays and
spectral-radius scaling.

:class:`Synapses` holds ``nnz`` synapses of an ``n_pre -> n_post`` projection in a canonical
order: by presynaptic neuron, then by delay, then by postsynaptic neuron. ``indptr[j] :
indptr[j + 1]`` are the outgoing synapses of neuron ``j``; ``post[k]``, ``weight[k]`` and
``delay[k]`` (in steps of the simulation) describe synapse ``k``. At most one synapse joins a
pair of neurons, so the dense equivalent :meth:`Synapses.dense` is an ``[n_post, n_pre]``
matrix, the layout of :mod:`spikegate.plasticity` and :class:`spikegate.Recurrent`.

Randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from spikegate._validate import check_choice, check_int, check_positive, check_range

DISTRIBUTIONS: tuple[str, ...] = ("constant", "uniform")


def as_generator(generator: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator, a seed, or ``None`` (fresh entropy)."""
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None or (isinstance(generator, int) and not isinstance(generator, bool)):
        return np.random.default_rng(generator)
    raise TypeError(f"generator must be a numpy.random.Generator, an int seed or None, got {type(generator).__name__}")


@dataclass(frozen=True, eq=False)
class Synapses:
    """Synapses ``n_pre -> n_post`` in CSR form (see the module docstring). Build with
    :meth:`from_pairs`; the arrays are read-only."""

    indptr: np.ndarray  # int64 [n_pre + 1]
    post: np.ndarray  # int64 [nnz]
    weight: np.ndarray  # float64 [nnz]
    delay: np.ndarray  # int64 [nnz], steps
    n_pre: int
    n_post: int

    @classmethod
    def from_pairs(cls, pre: np.ndarray, post: np.ndarray, weight: np.ndarray | float, n_pre: int, n_post: int,
                   delay: np.ndarray | int = 0) -> "Synapses":
        """Synapses from parallel arrays (any order): presynaptic index, postsynaptic index,
        weight, delay in steps (>= 0). Raises on out-of-range indices or repeated pairs."""
        check_int(n_pre, "n_pre", minimum=1)
        check_int(n_post, "n_post", minimum=1)
        pre = np.asarray(pre, dtype=np.int64).ravel()
        post = np.asarray(post, dtype=np.int64).ravel()
        if pre.shape != post.shape:
            raise ValueError(f"pre and post must have the same length, got {pre.size} and {post.size}")
        weight = np.broadcast_to(np.asarray(weight, dtype=np.float64), pre.shape).copy()
        delay = np.broadcast_to(np.asarray(delay, dtype=np.int64), pre.shape).copy()
        if pre.size:
            if pre.min() < 0 or pre.max() >= n_pre:
                raise ValueError(f"pre indices must lie in 0..{n_pre - 1}")
            if post.min() < 0 or post.max() >= n_post:
                raise ValueError(f"post indices must lie in 0..{n_post - 1}")
            if delay.min() < 0:
                raise ValueError("delay must be >= 0 steps")
        if not np.isfinite(weight).all():
            raise ValueError("weight contains NaN or inf")
        pair = np.sort(pre * n_post + post)
        if pair.size > 1 and bool((pair[1:] == pair[:-1]).any()):
            raise ValueError("a pair of neurons is joined by more than one synapse")
        slots = int(delay.max()) + 1 if delay.size else 1
        if n_pre * slots * n_post < 2**62:  # one integer key sorts fastest
            order = np.argsort((pre * slots + delay) * n_post + post, kind="stable")
        else:
            order = np.lexsort((post, delay, pre))
        indptr = np.zeros(n_pre + 1, np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        arrays = [a[order] for a in (post, weight, delay)]
        return cls(indptr, arrays[0], arrays[1], arrays[2], n_pre, n_post)

    @property
    def nnz(self) -> int:
        return int(self.post.size)

    @cached_property
    def pre(self) -> np.ndarray:
        """Presynaptic index of every synapse, ``[nnz]``."""
        out = np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))
        return out

    @cached_property
    def post_int32(self) -> np.ndarray:
        """``post`` as int32 (the event loop reads half the bytes)."""
        if self.n_post >= 2**31:
            raise ValueError("post_int32 needs fewer than 2**31 postsynaptic neurons")
        return self.post.astype(np.int32)

    @cached_property
    def by_post(self) -> tuple[np.ndarray, np.ndarray]:
        """Incoming view: ``(ptr [n_post + 1], synapse ids [nnz])``, the synapses onto neuron
        ``i`` being ``ids[ptr[i]:ptr[i + 1]]`` (in increasing id order)."""
        ids = np.argsort(self.post, kind="stable")
        ptr = np.zeros(self.n_post + 1, np.int64)
        np.cumsum(np.bincount(self.post, minlength=self.n_post), out=ptr[1:])
        return ptr, ids

    @cached_property
    def segments(self) -> np.ndarray:
        """Pointers by (presynaptic neuron, delay): the synapses of neuron ``j`` with delay ``d``
        are ``seg[j * (D + 1) + d] : seg[j * (D + 1) + d + 1]``, ``D`` the largest delay."""
        slots = self.max_delay + 1
        seg = np.zeros(self.n_pre * slots + 1, np.int64)
        np.cumsum(np.bincount(self.pre * slots + self.delay, minlength=self.n_pre * slots), out=seg[1:])
        return seg

    @cached_property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.nnz else 0

    def with_weight(self, weight: np.ndarray | torch.Tensor) -> "Synapses":
        """The same synapses with new weights ``[nnz]`` (in this object's order)."""
        w = weight.detach().cpu().numpy() if isinstance(weight, torch.Tensor) else np.asarray(weight)
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.nnz,):
            raise ValueError(f"weight must have shape ({self.nnz},), got {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("weight contains NaN or inf")
        w = w.copy()
        return Synapses(self.indptr, self.post, w, self.delay, self.n_pre, self.n_post)

    def dense(self, values: np.ndarray | None = None) -> torch.Tensor:
        """Dense ``[n_post, n_pre]`` float64 matrix of ``values`` (default: the weights)."""
        out = torch.zeros(self.n_post, self.n_pre, dtype=torch.float64)
        vals = self.weight if values is None else values
        out[torch.from_numpy(self.post), torch.from_numpy(self.pre)] = torch.as_tensor(vals, dtype=torch.float64)
        return out

    def spectral_radius(self, method: str = "auto") -> float:
        """Largest eigenvalue modulus of the ``n x n`` weight matrix (square projections only):
        ``"dense"`` (LAPACK, exact), ``"arpack"`` (``scipy.sparse.linalg.eigs``, the largest of
        a few leading eigenvalues, for large sparse matrices), ``"auto"`` (dense below 2000)."""
        check_choice(method, "method", ("auto", "dense", "arpack"))
        if self.n_pre != self.n_post:
            raise ValueError("the spectral radius needs a square (recurrent) projection")
        if self.nnz == 0:
            return 0.0
        if method == "dense" or (method == "auto" and self.n_pre < 2000):
            return float(np.abs(np.linalg.eigvals(self.dense().numpy())).max())
        from scipy.sparse import csr_matrix
        from scipy.sparse.linalg import eigs

        m = csr_matrix((self.weight, (self.post, self.pre)), shape=(self.n_post, self.n_pre))
        k = min(8, self.n_pre - 2)
        # a few eigenvalues: at the edge of a random matrix's bulk they crowd together
        vals = eigs(m, k=k, which="LM", return_eigenvectors=False, tol=1e-8, ncv=min(self.n_pre, 4 * k + 1),
                    maxiter=100000, v0=np.ones(self.n_pre))
        return float(np.abs(vals).max())

    def scaled_to_radius(self, radius: float) -> "Synapses":
        """The same synapses with all weights scaled so the spectral radius is ``radius``."""
        check_positive(radius, "radius")
        current = self.spectral_radius()
        if current == 0:
            raise ValueError("cannot scale a weight matrix whose spectral radius is 0")
        return self.with_weight(self.weight * (radius / current))


def random_pairs(n_pre: int, n_post: int, *, p: float | None = None, in_degree: int | None = None,
                 autapses: bool = False, generator: np.random.Generator | int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Random connectivity: each ordered pair independently with probability ``p`` (Erdős–Rényi),
    or exactly ``in_degree`` distinct presynaptic partners per postsynaptic neuron. Without
    ``autapses`` (square projections), no neuron connects to itself. Returns ``(pre, post)``."""
    check_int(n_pre, "n_pre", minimum=1)
    check_int(n_post, "n_post", minimum=1)
    if (p is None) == (in_degree is None):
        raise ValueError("give exactly one of p (connection probability) and in_degree")
    rng = as_generator(generator)
    no_self = not autapses and n_pre == n_post
    pool = n_pre - 1 if no_self else n_pre
    if in_degree is not None:
        check_int(in_degree, "in_degree")
        if in_degree > pool:
            raise ValueError(f"in_degree must be <= {pool} (the possible presynaptic partners), got {in_degree}")
    else:
        check_range(p, "p", 0.0, 1.0)
    pres, posts = [], []
    rows = max(1, 2_000_000 // max(pool, 1))  # ~16 MB of random numbers per block
    for first in range(0, n_post, rows):
        block = np.arange(first, min(first + rows, n_post))
        keys = rng.random((block.size, pool))
        if in_degree is not None:  # the in_degree smallest keys: a uniform subset of size in_degree
            src = np.argpartition(keys, in_degree - 1, axis=1)[:, :in_degree] if in_degree else keys[:, :0]
            src = np.sort(src, axis=1).astype(np.int64)
            tgt = np.repeat(block, in_degree)
            src = src.ravel()
        else:
            r, src = np.nonzero(keys < p)
            tgt = block[r]
        if no_self:
            src = src + (src >= tgt)  # skip the neuron itself
        pres.append(src)
        posts.append(tgt)
    return np.concatenate(pres).astype(np.int64), np.concatenate(posts).astype(np.int64)


def draw_weights(n: int, scale: float, distribution: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` non-negative weight magnitudes: ``scale`` (``"constant"``) or ``scale * U(0, 1)``
    (``"uniform"``, Izhikevich 2003)."""
    check_choice(distribution, "distribution", DISTRIBUTIONS)
    check_positive(scale, "scale", allow_zero=True)
    if distribution == "constant":
        return np.full(n, float(scale))
    return scale * rng.random(n)


def delays_in_steps(n: int, delay: float | tuple[float, float], dt: float, rng: np.random.Generator) -> np.ndarray:
    """Delays in steps of ``dt``: a fixed delay in ms, or ``(low, high)`` ms drawn uniformly per
    synapse; rounded to the nearest step."""
    check_positive(dt, "dt")
    if isinstance(delay, tuple):
        lo, hi = (float(x) for x in delay)
        check_positive(lo, "delay", allow_zero=True)
        if hi < lo:
            raise ValueError(f"delay range must be (low, high) with low <= high, got {delay}")
        ms = rng.uniform(lo, hi, size=n)
    else:
        check_positive(delay, "delay", allow_zero=True)
        ms = np.full(n, float(delay))
    return np.rint(ms / dt).astype(np.int64)


def dale_synapses(excitatory: np.ndarray, *, p: float | None = None, in_degree: int | None = None,
                  w_exc: float, w_inh: float, distribution: str = "uniform",
                  delay: float | tuple[float, float] = 0.0, dt: float = 1.0, autapses: bool = False,
                  spectral_radius: float | None = None,
                  generator: np.random.Generator | int | None = None) -> Synapses:
    r"""Recurrent synapses obeying Dale's law: every synapse of an excitatory neuron is
    :math:`\ge 0` (magnitude from ``w_exc``), of an inhibitory one :math:`\le 0` (``w_inh``).
    Optionally scaled (both signs alike) to a spectral radius. ``excitatory``: bool ``[N]``."""
    exc = np.asarray(excitatory, dtype=bool)
    n = exc.size
    rng = as_generator(generator)
    pre, post = random_pairs(n, n, p=p, in_degree=in_degree, autapses=autapses, generator=rng)
    mag = np.where(exc[pre], draw_weights(pre.size, w_exc, distribution, rng),
                   draw_weights(pre.size, w_inh, distribution, rng))
    weight = np.where(exc[pre], mag, -mag)
    syn = Synapses.from_pairs(pre, post, weight, n, n, delays_in_steps(pre.size, delay, dt, rng))
    return syn if spectral_radius is None else syn.scaled_to_radius(spectral_radius)


def obeys_dale(synapses: Synapses, excitatory: np.ndarray) -> bool:
    """True when no excitatory neuron has a negative and no inhibitory one a positive weight."""
    exc = np.asarray(excitatory, dtype=bool)[synapses.pre]
    return bool((synapses.weight[exc] >= 0).all() and (synapses.weight[~exc] <= 0).all())
