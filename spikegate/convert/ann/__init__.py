"""ANN components with gates, experts and attention, written once against an operator set so
that :func:`spikegate.convert.to_snn` can run them as spiking networks (see :mod:`.base`)."""

from spikegate.convert.ann.base import (
    ANN,
    AnnOps,
    Convertible,
    SequenceComponent,
    TokenComponent,
    aux_losses,
)
from spikegate.convert.ann.blocks import MLP, PreNormResidual, SequencePool
from spikegate.convert.ann.d2s import DenseToSparseGate
from spikegate.convert.ann.gam import GAMState, GatedAssociativeMemory
from spikegate.convert.ann.gated_attention import GatedAttention, causal_softmax
from spikegate.convert.ann.gla import (
    GatedLinearAttention,
    GLAState,
    gla_chunked,
    gla_recurrent,
    quantize_decay,
)
from spikegate.convert.ann.moe import TopKMoE, TopKRouter, load_balancing_loss
from spikegate.convert.ann.move import MoVE, ValueEmbeddingBank
from spikegate.convert.ann.quant import ActQuant, qcfs

__all__ = [
    "ANN",
    "ActQuant",
    "AnnOps",
    "Convertible",
    "DenseToSparseGate",
    "GAMState",
    "GLAState",
    "GatedAssociativeMemory",
    "GatedAttention",
    "GatedLinearAttention",
    "MLP",
    "MoVE",
    "PreNormResidual",
    "SequenceComponent",
    "SequencePool",
    "TokenComponent",
    "TopKMoE",
    "TopKRouter",
    "ValueEmbeddingBank",
    "aux_losses",
    "causal_softmax",
    "gla_chunked",
    "gla_recurrent",
    "load_balancing_loss",
    "qcfs",
    "quantize_decay",
]
