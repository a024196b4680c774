"""Fused kernels of the ``"lif"`` op (:func:`spikegate.neurons.lif.lif_step`); see README.md."""
