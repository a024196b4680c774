"""The Loihi emulator kernel (numba): a whole integer network per call, see :mod:`.cpu`."""
