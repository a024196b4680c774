"""Files: HDF5 recordings, atomic checkpoints, dataset loaders, event-data readers (SHD/SSC,
N-MNIST) and the synthetic spike-train sources of the LZC papers."""

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
from spikegate.io.events import EventSamples, bin_events, events_to_frames, load_nmnist, read_nmnist_bin, read_shd
from spikegate.io.recording import Recorder, Recording, RecordingError, SpikeTrains, read_recording
from spikegate.io.synthetic import SpikeSamples, lzc_source

__all__ = [
    "CheckpointError",
    "DatasetFormatError",
    "DatasetMissing",
    "EventSamples",
    "Recorder",
    "Recording",
    "RecordingError",
    "SpikeSamples",
    "SpikeTrains",
    "Split",
    "bin_events",
    "events_to_frames",
    "load_checkpoint",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist5k",
    "load_nmnist",
    "lzc_source",
    "read_idx",
    "read_nmnist_bin",
    "read_recording",
    "read_shd",
    "save_checkpoint",
    "stratified_split",
]
