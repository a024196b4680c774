"""Spiking diffusion models (Cao et al. 2024, SDM): noise schedules, DDPM/DDIM samplers, the
spiking U-Net with the temporal-wise spiking mechanism (TSM), threshold guidance, an offline
sample-quality metric and the SOP-based energy estimate."""

from spikegate.diffusion.energy import EnergyEstimate, unet_energy
from spikegate.diffusion.guidance import threshold_guidance
from spikegate.diffusion.metric import (
    FeatureClassifier,
    SampleQuality,
    frechet_distance,
    sample_quality,
    train_classifier,
)
from spikegate.diffusion.samplers import ddim_sample, ddpm_sample
from spikegate.diffusion.schedule import NoiseSchedule
from spikegate.diffusion.training import EMA, Trainer, diffusion_loss
from spikegate.diffusion.tsm import TSM, add_tsm, tsm_gains
from spikegate.diffusion.unet import SpikingUNet

__all__ = [
    "EMA",
    "EnergyEstimate",
    "FeatureClassifier",
    "NoiseSchedule",
    "SampleQuality",
    "SpikingUNet",
    "TSM",
    "Trainer",
    "add_tsm",
    "ddim_sample",
    "ddpm_sample",
    "diffusion_loss",
    "frechet_distance",
    "sample_quality",
    "threshold_guidance",
    "train_classifier",
    "unet_energy",
    "tsm_gains",
]
