"""Aghdam, Heravi, Puig 2016, "Analyzing the Stability of Convolutional Neural Networks against Image
Degradation" (VISAPP 2016) - "Aghdam 2016": every number it gives that this platform reproduces, each
with its table, figure or section.

The noise sweep, the minimum-noise search and the ``reproduce aghdam`` report read these constants;
nothing else writes the paper's numbers again. Where the paper is silent, the value is
:data:`NOT_GIVEN` and the report shows the value we chose as ours.

Class ids: the GTSRB tables number the classes 0-42 as GTSRB does; the CIFAR-10 and MNIST tables number
them 1-10, which we read as class id k-1 (so MNIST "cls 1" is the digit 0, CIFAR-10 "cls 1" airplane):
the tables list ten rows and no class 0, and 1-based numbering is the only one that fits.
"""

from __future__ import annotations

from typing import Any

from stimuli import AGHDAM_SIGMAS as _STIMULI_AGHDAM_SIGMAS

NOT_GIVEN = "not given in the paper"

# Section 4, "Tolerance against Noise": every test image is degraded with Gaussian noise at each sigma
# (0-255 scale), 150 noisy images per sigma, so 1,800 degraded images per clean test image. The one
# definition of the sigma list lives in stimuli (which builds the noise stimulus sets and cannot import
# model_eval); this is the name model_eval uses.
AGHDAM_SIGMAS: tuple[float, ...] = tuple(float(s) for s in _STIMULI_AGHDAM_SIGMAS)
AGHDAM_NOISE: dict[str, Any] = {
    "where": "Aghdam 2016, Section 4 (Tolerance against Noise)",
    "sigmas": AGHDAM_SIGMAS,
    "draws_per_sigma": 150,
    "degraded_per_image": 1800,
    # PSNR anchors the text gives for its scatter plots (dB): sigma 1 -> about 50, sigma 40 -> about 15;
    # the GTSRB network "makes more mistakes starting from sigma = 8 (PSNR about 30)".
    "psnr_at_sigma": {1.0: 50.0, 8.0: 30.0, 40.0: 15.0},
    # The scatter plots (Figures 3-7): per class, every noisy sample's PSNR against its classification
    # score, misclassified samples red, correct ones gray.
    "figures": "Aghdam 2016, Figures 3 (CIFAR-10), 4 (MNIST), 5-7 (GTSRB classes 0-14, 15-29, 30-42)",
}

# Section 3: the minimum-noise search. Objective (2)-(3): r* = argmin psi(L(X + r), c) + lambda ||r||_2,
# psi = beta * L[c] while X + r is still classified as c, L[k] - L[c] once classified as k != c; L is the
# softmax score vector, c the class of the clean image. Real-valued genes (one per element of r),
# tournament selection of size 5, arithmetic / intermediate / uniform crossover, mutation adding a number
# in [-10, 10] (0-255 scale) to some genes, elitism keeping the best solution, stop at the maximum number
# of iterations or after 50 iterations without improvement. The paper gives no population size, beta,
# lambda, maximum number of iterations, mutation rate, crossover rate or initial population: those are
# ours (model_eval.noise.search.GAConfig) and the report prints them as ours.
AGHDAM_GA: dict[str, Any] = {
    "where": "Aghdam 2016, Section 3 (Analyzing Stability)",
    "tournament": 5,
    "crossovers": ("arithmetic", "intermediate", "uniform"),
    "mutation_range_255": 10.0,
    "elite": 1,  # "elitism to always keep the best solution"
    "patience": 50,
    "norm": "L2",
    "population": NOT_GIVEN,
    "beta": NOT_GIVEN,
    "lambda": NOT_GIVEN,
    "max_iterations": NOT_GIVEN,
    "mutation_rate": NOT_GIVEN,
    "crossover_rate": NOT_GIVEN,
    "initial_population": NOT_GIVEN,
}

# Section 4: the GTSRB network is Aghdam et al. 2015's (48x48 input, trained on an augmented GTSRB); the
# CIFAR-10 and MNIST networks are drawn in Figure 1 only. Ensembles: 5 ConvNets initialised and trained
# separately, evaluated on the same noisy test sets (how their outputs are combined is not given: ours
# averages the softmax). Noise augmentation: 15 noisy images per training image "with different
# signal-to-noise ratios" (which sigmas is not given: ours draws each copy's sigma from AGHDAM_SIGMAS,
# and the clean images stay in the training set).
AGHDAM_TRAINING: dict[str, Any] = {
    "where": "Aghdam 2016, Section 4 (Effect of Ensemble; Augmenting Noisy Images)",
    "gtsrb_input_size": 48,
    "ensemble_size": 5,
    "ensemble_combination": NOT_GIVEN,
    "noise_copies": 15,
    "noise_copy_sigmas": NOT_GIVEN,
}

# Per-class (precision, recall) tables; accuracy is top-1 in %. "network": single, ensemble of 5, or the
# single network trained on the noise-augmented set; "test": clean test set or its noisy version (every
# sigma, 150 draws each). The GTSRB network's clean performance is in Aghdam et al. 2015, not here.
AGHDAM_TABLES: list[dict[str, Any]] = [
    {
        "where": "Aghdam 2016, Table 1 (left)",
        "dataset": "CIFAR-10",
        "network": "single",
        "test": "clean",
        "accuracy": 78.95,
        "per_class": {
            0: (0.81, 0.82),
            1: (0.89, 0.89),
            2: (0.71, 0.73),
            3: (0.64, 0.58),
            4: (0.79, 0.75),
            5: (0.63, 0.77),
            6: (0.87, 0.83),
            7: (0.80, 0.86),
            8: (0.90, 0.88),
            9: (0.91, 0.80),
        },
    },
    {
        "where": "Aghdam 2016, Table 1 (right)",
        "dataset": "MNIST",
        "network": "single",
        "test": "clean",
        "accuracy": 98.98,
        "per_class": {
            0: (0.99, 0.99),
            1: (1.00, 0.99),
            2: (0.99, 0.99),
            3: (0.98, 1.00),
            4: (0.99, 0.99),
            5: (0.99, 0.99),
            6: (0.99, 0.99),
            7: (0.99, 0.98),
            8: (0.99, 0.99),
            9: (0.99, 0.99),
        },
    },
    {
        "where": "Aghdam 2016, Section 4 (refers to Aghdam et al. 2015)",
        "dataset": "GTSRB",
        "network": "single",
        "test": "clean",
        "accuracy": NOT_GIVEN,
        "per_class": {},
    },
    {
        "where": "Aghdam 2016, Table 2",
        "dataset": "GTSRB",
        "network": "single",
        "test": "noisy",
        "accuracy": 93.23,
        "per_class": {
            0: (0.9198, 0.9997),
            1: (0.8993, 0.9874),
            2: (0.8808, 0.9525),
            3: (0.8524, 0.8744),
            4: (0.9707, 0.8651),
            5: (0.8387, 0.9015),
            6: (0.9324, 0.7122),
            7: (0.9377, 0.8698),
            8: (0.8324, 0.9039),
            9: (0.9606, 0.9453),
            10: (0.9864, 0.8797),
            11: (0.9626, 0.9470),
            12: (0.9565, 0.9654),
            13: (0.9811, 0.9902),
            14: (0.9721, 0.9969),
            15: (0.9898, 0.9578),
            16: (0.9993, 0.9319),
            17: (0.9911, 0.9911),
            18: (0.9682, 0.8998),
            19: (0.6640, 0.7462),
            20: (0.8314, 0.9997),
            21: (0.8995, 0.9997),
            22: (0.9988, 0.9758),
            23: (0.8392, 0.8911),
            24: (0.9178, 0.9098),
            25: (0.9288, 0.9700),
            26: (0.9105, 0.9592),
            27: (0.9470, 0.9891),
            28: (0.9777, 0.9915),
            29: (0.8453, 0.9966),
            30: (0.8102, 0.7670),
            31: (0.9666, 0.8699),
            32: (0.9773, 0.8472),
            33: (0.9865, 0.9977),
            34: (0.9866, 0.9973),
            35: (0.9933, 0.9382),
            36: (0.9849, 0.9928),
            37: (0.9507, 0.9875),
            38: (0.9651, 0.9792),
            39: (0.9724, 0.9100),
            40: (0.9061, 0.9629),
            41: (0.9508, 0.9268),
            42: (0.9082, 0.9126),
        },
    },
    {
        "where": "Aghdam 2016, Table 3 (left)",
        "dataset": "CIFAR-10",
        "network": "single",
        "test": "noisy",
        "accuracy": 64.36,
        "per_class": {
            0: (0.86, 0.54),
            1: (0.89, 0.72),
            2: (0.69, 0.48),
            3: (0.60, 0.39),
            4: (0.59, 0.66),
            5: (0.68, 0.49),
            6: (0.37, 0.92),
            7: (0.82, 0.71),
            8: (0.78, 0.80),
            9: (0.75, 0.76),
        },
    },
    {
        "where": "Aghdam 2016, Table 3 (right)",
        "dataset": "MNIST",
        "network": "single",
        "test": "noisy",
        "accuracy": 98.51,
        "per_class": {
            0: (0.98, 0.99),
            1: (0.99, 0.99),
            2: (0.98, 0.98),
            3: (0.96, 0.99),
            4: (0.99, 0.98),
            5: (0.98, 0.97),
            6: (0.99, 0.98),
            7: (0.99, 0.98),
            8: (0.98, 0.98),
            9: (0.98, 0.97),
        },
    },
    {
        "where": "Aghdam 2016, Table 4",
        "dataset": "GTSRB",
        "network": "ensemble of 5",
        "test": "noisy",
        "accuracy": 95.15,
        "per_class": {
            0: (0.9547, 0.9970),
            1: (0.9126, 0.9917),
            2: (0.8848, 0.9667),
            3: (0.9093, 0.8982),
            4: (0.9859, 0.8896),
            5: (0.8469, 0.9429),
            6: (0.9401, 0.7909),
            7: (0.9612, 0.8853),
            8: (0.8872, 0.9279),
            9: (0.9875, 0.9653),
            10: (0.9855, 0.9311),
            11: (0.9513, 0.9786),
            12: (0.9378, 0.9791),
            13: (0.9876, 0.9919),
            14: (0.9699, 0.9991),
            15: (0.9894, 0.9762),
            16: (0.9994, 0.9585),
            17: (0.9929, 0.9947),
            18: (0.9859, 0.9030),
            19: (0.8710, 0.7784),
            20: (0.9061, 0.9996),
            21: (0.9398, 0.9993),
            22: (0.9994, 0.9788),
            23: (0.9372, 0.8838),
            24: (0.9383, 0.9024),
            25: (0.9548, 0.9872),
            26: (0.9131, 0.9877),
            27: (0.9605, 0.9953),
            28: (0.9726, 0.9912),
            29: (0.8925, 0.9985),
            30: (0.8775, 0.8524),
            31: (0.9789, 0.9101),
            32: (0.9939, 0.8542),
            33: (0.9971, 0.9982),
            34: (0.9955, 0.9995),
            35: (0.9926, 0.9678),
            36: (0.9820, 0.9984),
            37: (0.9743, 0.9956),
            38: (0.9883, 0.9832),
            39: (0.9753, 0.9266),
            40: (0.8843, 0.9732),
            41: (0.9832, 0.9909),
            42: (0.9328, 0.9631),
        },
    },
    {
        "where": "Aghdam 2016, Table 5 (left)",
        "dataset": "CIFAR-10",
        "network": "ensemble of 5",
        "test": "noisy",
        "accuracy": 67.88,
        "per_class": {
            0: (0.88, 0.57),
            1: (0.91, 0.78),
            2: (0.73, 0.53),
            3: (0.67, 0.42),
            4: (0.70, 0.63),
            5: (0.74, 0.52),
            6: (0.39, 0.94),
            7: (0.88, 0.72),
            8: (0.82, 0.81),
            9: (0.65, 0.86),
        },
    },
    {
        "where": "Aghdam 2016, Table 5 (right)",
        "dataset": "MNIST",
        "network": "ensemble of 5",
        "test": "noisy",
        "accuracy": 98.69,
        "per_class": {
            0: (0.98, 0.99),
            1: (0.98, 1.00),
            2: (0.99, 0.99),
            3: (0.97, 0.99),
            4: (0.99, 0.99),
            5: (0.98, 0.98),
            6: (0.99, 0.98),
            7: (1.00, 0.98),
            8: (0.99, 0.98),
            9: (0.99, 0.97),
        },
    },
    {
        "where": "Aghdam 2016, Table 6",
        "dataset": "GTSRB",
        "network": "noise-augmented",
        "test": "noisy",
        "accuracy": 96.08,
        "per_class": {
            0: (0.9970, 0.9906),
            1: (0.9503, 0.9728),
            2: (0.9281, 0.9586),
            3: (0.9170, 0.9004),
            4: (0.9205, 0.9242),
            5: (0.8263, 0.8987),
            6: (0.9506, 0.9386),
            7: (0.9173, 0.8734),
            8: (0.8823, 0.8834),
            9: (0.9648, 0.9558),
            10: (0.9336, 0.9596),
            11: (0.9519, 0.9678),
            12: (0.9019, 0.9960),
            13: (0.9451, 0.9852),
            14: (0.9933, 0.9956),
            15: (0.9812, 0.9750),
            16: (0.9951, 0.9728),
            17: (0.9911, 0.9884),
            18: (0.9325, 0.9723),
            19: (0.9386, 0.9417),
            20: (0.9624, 0.9451),
            21: (0.9872, 0.9805),
            22: (0.9982, 0.9962),
            23: (0.9840, 0.9485),
            24: (0.9877, 0.9663),
            25: (0.9687, 0.9710),
            26: (0.9556, 0.9631),
            27: (0.9965, 0.9831),
            28: (0.9935, 0.9695),
            29: (0.9976, 0.9913),
            30: (0.9496, 0.9448),
            31: (0.9486, 0.9466),
            32: (0.9859, 0.9393),
            33: (0.9931, 0.9733),
            34: (0.9905, 0.9833),
            35: (0.9820, 0.9815),
            36: (0.9851, 0.9786),
            37: (0.9948, 0.9825),
            38: (0.9575, 0.9761),
            39: (0.9491, 0.9753),
            40: (0.9917, 0.9613),
            41: (0.9834, 0.9684),
            42: (0.9845, 0.9400),
        },
    },
]

# The networks and data sets of the tables, as the report names them.
AGHDAM_NETWORKS = ("single", "ensemble of 5", "noise-augmented")
AGHDAM_DATASETS = ("GTSRB", "CIFAR-10", "MNIST")


def aghdam_table(dataset: str, network: str, test: str) -> dict[str, Any] | None:
    """The paper's table for (data set, network, clean|noisy test), or None where the paper has none
    (e.g. the noise-augmented network on CIFAR-10, whose results the paper left out for space)."""
    for t in AGHDAM_TABLES:
        if (t["dataset"], t["network"], t["test"]) == (dataset, network, test):
            return t
    return None
