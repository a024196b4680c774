"""Where trained networks run outside PyTorch: Lava / Loihi (``export.lava``), NIR, Brian2."""
