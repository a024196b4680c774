"""Where a spikegate network runs outside PyTorch: NIR graphs (:mod:`spikegate.export.nir`)."""
