"""Fused kernels of the ``"meta"`` op (:func:`spikegate.neurons.meta.meta_step`); see README.md."""
