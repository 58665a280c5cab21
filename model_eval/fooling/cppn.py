"""CPPN genomes for the indirect encoding of fooling images (Nguyen et al. 2015, Methods).

A compositional pattern-producing network maps each pixel's (x, y, d) (and a bias) to its intensity,
or to R, G, B, through a small feed-forward graph of sine, sigmoid, Gaussian, linear, ... units. Genomes
grow as in NEAT (Stanley & Miikkulainen 2002), which the paper's CPPN evolution builds on: a new node
splits a connection, a new connection joins two unconnected nodes in feed-forward order, weights are
perturbed and a hidden node may change its activation function. Because every unit is a smooth function
of the coordinates, the images show regular, repeated, often symmetric patterns, not pixel noise.

Genomes of different shapes are rendered in one batched pass: each genome becomes a dense weight
matrix over its nodes in topological order, padded to the largest genome of the batch, and the nodes
are evaluated one position at a time for every genome and pixel together (on the device).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

ACTIVATIONS: tuple[str, ...] = ("sine", "sigmoid", "gaussian", "linear", "tanh", "abs")
"""Hidden-unit functions; the paper names sine, sigmoid, Gaussian and linear (Methods)."""
INPUTS: tuple[str, ...] = ("x", "y", "d", "bias")
FORMAT = "model_eval.cppn/1"


def _apply(act: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """Each genome's own activation function (act: B long ids into ACTIVATIONS) applied to pre (B, P)."""
    outs = torch.stack(
        [
            torch.sin(pre),
            torch.sigmoid(pre),
            torch.exp(-pre * pre * 2.0),
            pre,
            torch.tanh(pre),
            pre.abs(),
        ]
    )  # A, B, P
    return outs.gather(0, act.view(1, -1, 1).expand(1, *pre.shape))[0]


@dataclass
class Genome:
    """Nodes (ids with an activation) and connections (src, dst, weight, enabled).

    Node ids 0..3 are the inputs (x, y, d, bias), then the outputs (1 gray or 3 RGB channels, sigmoid so
    values lie in [0, 1]); hidden nodes follow. ``order`` is a topological order of all nodes that every
    mutation keeps valid, so a connection always goes from an earlier to a later node.
    """

    n_out: int
    activations: dict[int, str] = field(default_factory=dict)
    connections: list[tuple[int, int, float, bool]] = field(default_factory=list)
    order: list[int] = field(default_factory=list)

    @property
    def outputs(self) -> list[int]:
        return list(range(len(INPUTS), len(INPUTS) + self.n_out))

    def next_id(self) -> int:
        return max(self.order) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "n_out": self.n_out,
            "activations": {str(k): v for k, v in self.activations.items()},
            "connections": [[s, d, float(w), bool(e)] for s, d, w, e in self.connections],
            "order": list(self.order),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genome:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a CPPN genome (format {FORMAT} expected)")
        g = cls(
            n_out=int(data["n_out"]),
            activations={int(k): str(v) for k, v in data["activations"].items()},
            connections=[(int(s), int(d), float(w), bool(e)) for s, d, w, e in data["connections"]],
            order=[int(n) for n in data["order"]],
        )
        g.check()
        return g

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Genome:
        return cls.from_dict(json.loads(text))

    def check(self) -> None:
        """Raise ValueError unless the genome is a valid feed-forward CPPN."""
        pos = {n: i for i, n in enumerate(self.order)}
        if len(pos) != len(self.order) or set(pos) != set(range(len(INPUTS))) | set(self.activations):
            raise ValueError("CPPN genome: order and activations name different nodes")
        for n, a in self.activations.items():
            if a not in ACTIVATIONS:
                raise ValueError(f"CPPN genome: node {n} has unknown activation {a!r}")
        for s, d, w, _ in self.connections:
            if s not in pos or d not in pos or pos[s] >= pos[d] or d < len(INPUTS) or not math.isfinite(w):
                raise ValueError(f"CPPN genome: connection {s}->{d} is not feed-forward or not finite")


INPUT_WEIGHT_SD = 4.0


def initial_genome(n_out: int, rng: np.random.Generator, *, hidden: int = 3) -> Genome:
    """A small random CPPN: inputs -> ``hidden`` random-function units -> outputs, plus direct links."""
    n_in = len(INPUTS)
    outs = list(range(n_in, n_in + n_out))
    hid = list(range(n_in + n_out, n_in + n_out + hidden))
    acts = {o: "sigmoid" for o in outs}
    acts.update({h: str(rng.choice(ACTIVATIONS)) for h in hid})
    conns = []
    for h in hid:  # wide input weights: a sine or Gaussian unit then repeats several times across the image
        conns += [(i, h, float(rng.normal(0, INPUT_WEIGHT_SD)), True) for i in range(n_in)]
        conns += [(h, o, float(rng.normal(0, 2.0)), True) for o in outs]
    conns += [(i, o, float(rng.normal(0, 1.0)), True) for i in range(n_in) for o in outs]
    return Genome(n_out, acts, conns, [*range(n_in), *hid, *outs])


@dataclass(frozen=True)
class MutationRates:
    """Per-offspring probabilities of each structural change, and the weight perturbation."""

    add_node: float = 0.15
    add_connection: float = 0.25
    change_activation: float = 0.15
    weight_fraction: float = 0.5
    weight_sigma: float = 0.5
    max_nodes: int = 40


def mutate(g: Genome, rng: np.random.Generator, rates: MutationRates = MutationRates()) -> Genome:
    """A mutated copy: perturb weights; maybe add a node, add a connection, change an activation."""
    conns = list(g.connections)
    acts = dict(g.activations)
    order = list(g.order)
    for k, (s, d, w, e) in enumerate(conns):
        if rng.random() < rates.weight_fraction:
            conns[k] = (s, d, float(np.clip(w + rng.normal(0, rates.weight_sigma), -8, 8)), e)
    hidden = [n for n in acts if n not in g.outputs]
    if hidden and rng.random() < rates.change_activation:
        n = int(rng.choice(hidden))
        acts[n] = str(rng.choice(ACTIVATIONS))
    enabled = [k for k, c in enumerate(conns) if c[3]]
    if enabled and len(order) < rates.max_nodes and rng.random() < rates.add_node:
        k = int(rng.choice(enabled))
        s, d, w, _ = conns[k]
        new = max(order) + 1
        conns[k] = (s, d, w, False)
        conns += [(s, new, 1.0, True), (new, d, w, True)]
        acts[new] = str(rng.choice(ACTIVATIONS))
        order.insert(order.index(d), new)  # right before its target: still topological
    if rng.random() < rates.add_connection:
        pos = {n: i for i, n in enumerate(order)}
        present = {(s, d) for s, d, _, _ in conns}
        cands = [
            (a, b)
            for a in order
            for b in order
            if pos[a] < pos[b] and b >= len(INPUTS) and (a, b) not in present
        ]
        if cands:
            a, b = cands[int(rng.integers(len(cands)))]
            conns.append((a, b, float(rng.normal(0, 2.0)), True))
    return Genome(g.n_out, acts, conns, order)


def coordinates(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The CPPN inputs for a size x size image: (4, P) rows x, y in [-1, 1], d = distance / sqrt(2), bias."""
    lin = torch.linspace(-1.0, 1.0, size, device=device)
    y, x = torch.meshgrid(lin, lin, indexing="ij")
    d = torch.sqrt(x * x + y * y) / math.sqrt(2.0)
    return torch.stack([x.reshape(-1), y.reshape(-1), d.reshape(-1), torch.ones_like(d).reshape(-1)])


def render(genomes: list[Genome], size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Render every genome at size x size in one batched pass: (B, n_out, size, size) in [0, 1]."""
    if not genomes:
        raise ValueError("no genomes to render")
    n_out = genomes[0].n_out
    if any(g.n_out != n_out for g in genomes):
        raise ValueError("all genomes of one batch need the same number of outputs")
    n_in = len(INPUTS)
    # position of each node: inputs 0..3 first, then the genome's other nodes in its topological order
    n_nodes = max(len(g.order) for g in genomes)
    b = len(genomes)
    weights = np.zeros((b, n_nodes, n_nodes), dtype=np.float32)
    act_ids = np.full((b, n_nodes), ACTIVATIONS.index("linear"), dtype=np.int64)
    out_pos = np.zeros((b, n_out), dtype=np.int64)
    for k, g in enumerate(genomes):
        rest = [n for n in g.order if n >= n_in]
        pos = {**{i: i for i in range(n_in)}, **{n: n_in + j for j, n in enumerate(rest)}}
        for s, d, w, e in g.connections:
            if e:
                weights[k, pos[s], pos[d]] += w
        for n, a in g.activations.items():
            act_ids[k, pos[n]] = ACTIVATIONS.index(a)
        out_pos[k] = [pos[o] for o in g.outputs]
    w_t = torch.from_numpy(weights).to(device)
    a_t = torch.from_numpy(act_ids).to(device)
    coords = coordinates(size, device)
    values = torch.zeros(b, n_nodes, coords.shape[1], device=device)
    values[:, :n_in] = coords
    for j in range(n_in, n_nodes):  # nodes in topological position; all genomes and pixels at once
        pre = torch.einsum("bi,bip->bp", w_t[:, :j, j], values[:, :j])
        values[:, j] = _apply(a_t[:, j], pre)
    idx = torch.from_numpy(out_pos).to(device).unsqueeze(-1).expand(b, n_out, coords.shape[1])
    return values.gather(1, idx).reshape(b, n_out, size, size).clamp(0.0, 1.0)
