"""Where a spikegate network runs outside PyTorch: NIR graphs (:mod:`spikegate.export.nir`) and
Loihi through Intel Lava or spikegate's own emulator (:mod:`spikegate.export.lava`)."""
