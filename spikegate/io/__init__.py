"""Files: HDF5 recordings, atomic checkpoints, dataset loaders."""

from spikegate.io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from spikegate.io.datasets import (
    DatasetFormatError,
    DatasetMissing,
    Split,
    load_digits,
    load_fashion_mnist,
    load_mnist5k,
    read_idx,
    stratified_split,
)
from spikegate.io.recording import Recorder, Recording, RecordingError, SpikeTrains, read_recording

__all__ = [
    "CheckpointError",
    "DatasetFormatError",
    "DatasetMissing",
    "Recorder",
    "Recording",
    "RecordingError",
    "SpikeTrains",
    "Split",
    "load_checkpoint",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist5k",
    "read_idx",
    "read_recording",
    "save_checkpoint",
    "stratified_split",
]
