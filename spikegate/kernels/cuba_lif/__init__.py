"""Fused kernels of the ``"cuba_lif"`` op (:func:`spikegate.neurons.lif.cuba_lif_step`); see README.md."""
