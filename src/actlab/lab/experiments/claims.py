"""The claims register of VISION.md: each claim from the source texts, with the texts it came from."""

from __future__ import annotations

#: claim id -> {"claim": the register's wording, "sources": the seed texts that make it}.
CLAIMS: dict[str, dict[str, str]] = {
    "C1": {
        "claim": "ReLU is cheaper to compute than sigmoid/tanh (no exponential), forward and backward; SiLU, Mish, ELU cost more because of exp",
        "sources": "000, 001, 002, 004",
    },
    "C2": {
        "claim": "sigmoid/tanh saturate, so in deep nets their gradients vanish; ReLU's derivative of 1 for x>0 lets deeper nets train",
        "sources": "000, 001, 002, 004",
    },
    "C3": {
        "claim": "ReLU causes neither vanishing nor exploding gradients",
        "sources": "001",
    },
    "C4": {
        "claim": "ReLU makes activations sparse; sparsity gives more robust models and less overfitting",
        "sources": "000, 001, 002",
    },
    "C5": {
        "claim": '"dying ReLU": units that output 0 for every input and never recover; caused by large learning rates, large updates, bad initialization',
        "sources": "000, 001, 003, 004",
    },
    "C6": {
        "claim": "fixes for C5: Leaky ReLU, PReLU, ELU, a smaller learning rate, adaptive learning rates (Adagrad)",
        "sources": "001, 003, 004",
    },
    "C7": {
        "claim": "non-zero-centred outputs (sigmoid, ReLU) make all weight updates of a unit share a sign (zig-zag) and slow convergence; tanh and ELU (mean closer to 0) train faster",
        "sources": "000, 003, 004",
    },
    "C8": {
        "claim": "ReLU is sensitive to the mean and variance of its input; inputs need normalizing",
        "sources": "001",
    },
    "C9": {
        "claim": "networks with ReLU converge faster than with sigmoid or tanh",
        "sources": '004 (and AlexNet\'s "6x faster than tanh")',
    },
    "C10": {
        "claim": "softplus, although smooth, is empirically not better than ReLU; its derivative < 1 can let gradients vanish",
        "sources": "003, 004",
    },
    "C11": {
        "claim": "Leaky ReLU, PReLU, RReLU keep a non-zero gradient almost everywhere and improve speed or accuracy on some data sets",
        "sources": "002, 003, 004",
    },
    "C12": {
        "claim": "smooth, non-monotonic, bounded-below, unbounded-above functions (SiLU/Swish, Mish) beat ReLU",
        "sources": "004",
    },
    "C13": {
        "claim": "Mish and SiLU perform about the same, despite the Mish paper's claim",
        "sources": "004",
    },
    "C14": {
        "claim": "a bounded output range makes a network more stable (ReLU6, sigmoid, tanh)",
        "sources": "004",
    },
    "C15": {
        "claim": "ReLU's kink at 0 does not hurt gradient descent in practice",
        "sources": "003, 004",
    },
    "C16": {
        "claim": "ReLU belongs in hidden layers; sigmoid/softmax/linear in output layers",
        "sources": "001",
    },
    "C17": {
        "claim": "ReLU needs less memory: only one value (or one bit) per unit is kept for the backward pass",
        "sources": "001",
    },
    "C18": {
        "claim": "the criteria of a good activation: nonlinear, differentiable almost everywhere, cheap, non-saturating, bounded range; and (modern) bounded below, unbounded above, smooth, non-monotonic",
        "sources": "004",
    },
}
