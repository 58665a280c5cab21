"""Fooling images: each search reaches the target on a small network, MAP-Elites keeps the best per
class, CPPN genomes round-trip, and the command writes its results and a valid ``fooling`` set."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import stimuli
from model_eval.cli import main
from model_eval.fooling.cppn import Genome, initial_genome, mutate, render
from model_eval.fooling.search import Archive, FoolConfig, quantize, run_search
from model_eval.nets.checkpoint import load_checkpoint

from .digits import write_mnist_like

SIZE = 16


def _patterns(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Three smooth classes (left-bright, top-bright, centre-bright) with noise: a task a tiny MLP learns."""
    lin = torch.linspace(0, 1, SIZE)
    y, x = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack([1 - x, 1 - y, 1 - ((x - 0.5) ** 2 + (y - 0.5) ** 2).sqrt() * 1.4])
    labels = torch.randint(3, (n,), generator=gen)
    imgs = base[labels] + 0.25 * torch.randn(n, SIZE, SIZE, generator=gen)
    return imgs.clamp(0, 1).unsqueeze(1), labels


@pytest.fixture(scope="module")
def small_net() -> nn.Module:
    """A 3-class MLP on 16x16 gray images, trained for 150 Adam steps (about a second)."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(SIZE * SIZE, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        x, y = _patterns(64, gen)
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


# generations each search needs at most on this network (seed 0 needs 75, 1 and 8; the bounds leave room)
BOUNDS = {"direct": 200, "cppn": 100, "gradient": 200}


@pytest.mark.parametrize("encoding", ["direct", "cppn", "gradient"])
def test_each_method_reaches_the_target_in_bounded_generations(small_net: nn.Module, encoding: str):
    cfg = FoolConfig(encoding=encoding, generations=BOUNDS[encoding], population=32, seed=0)
    r = run_search(
        small_net, n_classes=3, channels=1, size=SIZE, config=cfg, device=torch.device("cpu"), progress=False
    )
    assert r.stopped == "target" and r.generations_run <= BOUNDS[encoding]
    imgs = r.archive.images
    assert torch.equal(imgs, torch.round(imgs * 255) / 255)  # on the 8-bit grid of the written PNGs
    with torch.no_grad():  # independent re-evaluation of the elites
        probs = F.softmax(small_net(imgs), dim=1)
    assert (probs.diagonal() >= 0.9999).all(), probs.diagonal()
    assert r.labels.tolist() == [0, 1, 2]
    assert r.archive.generation.max() == r.generations_run - 1  # the last cell filled ended the search


def test_map_elites_keeps_the_best_image_per_class():
    """Against a brute-force record of every candidate ever seen: per class the max and when it came."""
    rng = np.random.default_rng(3)
    archive = Archive.empty(4, (1, 2, 2), torch.device("cpu"))
    seen_p, seen_img, seen_gen = [], [], []
    for g in range(25):
        imgs = torch.from_numpy(rng.random((6, 1, 2, 2), dtype=np.float32))
        probs = torch.from_numpy(rng.dirichlet(np.ones(4) * 0.3, size=6).astype(np.float32))
        archive.update(imgs, probs, g)
        seen_p.append(probs)
        seen_img.append(imgs)
        seen_gen += [g] * 6
    p = torch.cat(seen_p)
    im = torch.cat(seen_img)
    for c in range(4):
        k = int(torch.argmax(p[:, c]))  # first occurrence of the max: a later tie does not replace it
        assert float(archive.confidence[c]) == float(p[k, c])
        assert torch.equal(archive.images[c], im[k])
        assert int(archive.generation[c]) == seen_gen[k]


def test_a_search_is_reproducible_from_its_seed(small_net: nn.Module):
    def run(seed: int, enc: str) -> torch.Tensor:
        cfg = FoolConfig(encoding=enc, generations=5, population=8, seed=seed, target=0.999999)
        return run_search(
            small_net,
            n_classes=3,
            channels=1,
            size=SIZE,
            config=cfg,
            device=torch.device("cpu"),
            progress=False,
        ).archive.images

    for enc in ("direct", "cppn", "gradient"):
        assert torch.equal(run(1, enc), run(1, enc))
        assert not torch.equal(run(1, enc), run(2, enc))


def _grown(seed: int, steps: int = 40, n_out: int = 3) -> Genome:
    rng = np.random.default_rng(seed)
    g = initial_genome(n_out, rng)
    for _ in range(steps):
        g = mutate(g, rng)
    return g


def test_cppn_genomes_grow_and_round_trip_through_their_saved_form():
    g = _grown(5)
    first = initial_genome(3, np.random.default_rng(5))
    assert len(g.order) > len(first.order) and len(g.connections) > len(first.connections)
    assert any(not e for *_, e in g.connections)  # split connections stay, disabled
    again = Genome.from_json(g.to_json())
    assert again == g
    a = render([g], 24)
    assert torch.equal(a, render([again], 24))
    assert a.shape == (1, 3, 24, 24) and float(a.min()) >= 0 and float(a.max()) <= 1
    # rendering in a batch of differently shaped genomes gives each one the same image as alone
    others = [_grown(s, steps=s * 5) for s in range(1, 5)]
    batch = render([*others, g], 24)
    assert torch.allclose(batch[-1], a[0], atol=1e-6)
    assert torch.allclose(batch[0], render([others[0]], 24)[0], atol=1e-6)


def test_cppn_genome_rejects_a_malformed_saved_form():
    d = _grown(2).to_dict()
    cyc = json.loads(json.dumps(d))
    out = cyc["order"][-1]
    cyc["connections"].append([out, cyc["order"][4], 1.0, True])  # backwards: a cycle
    with pytest.raises(ValueError, match="feed-forward"):
        Genome.from_dict(cyc)
    bad = json.loads(json.dumps(d))
    bad["activations"][str(bad["order"][-1])] = "relu6"
    with pytest.raises(ValueError, match="unknown activation"):
        Genome.from_dict(bad)
    with pytest.raises(ValueError, match="not a CPPN genome"):
        Genome.from_dict({**d, "format": "x"})


def _neighbour_correlation(img: np.ndarray) -> float:
    """Correlation of horizontally adjacent pixels: near 0 for pixel noise, high for smooth patterns."""
    a, b = img[:, :-1].ravel(), img[:, 1:].ravel()
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 1.0


def test_cppn_images_are_regular_patterns_and_direct_ones_are_not(small_net: nn.Module):
    res = {}
    for enc in ("direct", "cppn"):
        cfg = FoolConfig(encoding=enc, generations=BOUNDS[enc], population=32, seed=0)
        res[enc] = (
            run_search(
                small_net,
                n_classes=3,
                channels=1,
                size=SIZE,
                config=cfg,
                device=torch.device("cpu"),
                progress=False,
            )
            .archive.images[:, 0]
            .numpy()
        )
    cppn = [_neighbour_correlation(i) for i in res["cppn"]]
    direct = [_neighbour_correlation(i) for i in res["direct"]]
    assert min(cppn) > 0.6, cppn
    assert max(direct) < 0.3, direct


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = write_mnist_like(tmp_path_factory.mktemp("digits"), n_train=300, n_test=60)
    ckpt = root / "lenet5.pt"
    assert (
        main(
            [
                "train",
                "--arch",
                "lenet5",
                "--source",
                "mnist",
                "--root",
                str(root),
                "--size",
                "32",
                "--epochs",
                "2",
                "--n-per-class",
                "30",
                "--out",
                str(ckpt),
                "--no-progress",
            ]
        )
        == 0
    )
    return root, ckpt


def test_fool_command_writes_results_and_a_valid_fooling_set(digits_checkpoint, tmp_path: Path, capsys):
    _, ckpt = digits_checkpoint
    out, export = tmp_path / "run", tmp_path / "set"
    rc = main(
        [
            "fool",
            "--model",
            str(ckpt),
            "--out",
            str(out),
            "--export",
            str(export),
            "--generations",
            "3",
            "--population",
            "16",
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "direct" in capsys.readouterr().out
    assert stimuli.validate_stimulus_set(export) == []
    sset = stimuli.load_stimulus_set(export)
    m = sset.manifest
    assert set(m["family"]) == {"fooling"}
    main_rows, catch = m[~m["catch"]], m[m["catch"]]
    assert sorted(main_rows["condition"].value_counts().items()) == [
        ("cppn", 10),
        ("direct", 10),
        ("gradient", 10),
    ]
    assert main_rows.groupby("source_id")["condition"].nunique().eq(3).all()  # a source = a target class
    assert len(catch) >= 1 and set(catch["condition"]) == {"regular"}
    assert all(len(s) == 32 for s in m["stimulus_id"])
    # each label is the class the network assigns to the written 8-bit image
    model = load_checkpoint(ckpt).classifier
    x = torch.stack([torch.from_numpy(sset.image(s)).permute(2, 0, 1) for s in main_rows["stimulus_id"]])
    with torch.no_grad():
        assert model(x).argmax(1).tolist() == main_rows["label"].tolist()
    elites = sset.meta["params"]["elites"]
    assert len(elites) == 30 and {k.split("/")[1] for k in elites} == {"direct", "cppn", "gradient"}
    # results: per class the best image, confidence, generation; the archive over time
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 30 and (summary["generation"].between(0, 2)).all()
    for row in summary.itertuples():
        assert (out / row.image).is_file()
    with (out / "archive.csv").open() as fh:
        archive = list(csv.DictReader(fh))
    assert len(archive) == 3 * 3 * 10  # encodings x generations x classes
    last = {
        (a["encoding"], int(a["class"])): float(a["confidence"]) for a in archive if a["generation"] == "2"
    }
    for row in summary.itertuples():
        assert last[(row.encoding, row._2)] == pytest.approx(row.confidence, rel=1e-6)
    genomes = json.loads((out / "cppn_genomes.json").read_text())
    g = Genome.from_dict(genomes["4"])
    img = stimuli.read_png(out / "cppn" / "class_004.png")
    assert np.array_equal(quantize(render([g], 32))[0].permute(1, 2, 0).numpy(), img)
    run = json.loads((out / "run.json").read_text())
    assert [e["encoding"] for e in run["encodings"]] == ["direct", "cppn", "gradient"]
    assert all(e["generations_run"] == 3 and e["seconds"] > 0 for e in run["encodings"])
    for fig in ("contact_sheet.png", "confidence_curve.png"):
        assert (out / fig).stat().st_size > 5000


def test_fool_command_refuses_bad_input_before_searching(digits_checkpoint, tmp_path: Path, capsys):
    _, ckpt = digits_checkpoint
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    cases = [
        (["--export", str(busy)], "not empty"),
        (["--target", "1.5"], "target confidence"),
        (["--generations", "0"], "generations must be positive"),
        (["--export", str(tmp_path / "e"), "--source", "synthetic"], "classes"),
    ]
    for extra, msg in cases:
        rc = main(["fool", "--model", str(ckpt), "--out", str(tmp_path / "o"), "--no-progress", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()  # nothing was searched or written


def test_max_minutes_stops_a_search_and_the_final_state_is_logged(small_net: nn.Module):
    ticks = iter(range(0, 10_000, 25))  # a clock that advances 25 s per reading
    log = io.StringIO()
    cfg = FoolConfig(
        encoding="direct", generations=1000, population=4, target=0.999999, max_minutes=1.0, log_every=5
    )
    r = run_search(
        small_net,
        n_classes=3,
        channels=1,
        size=SIZE,
        config=cfg,
        device=torch.device("cpu"),
        log=log,
        progress=False,
        clock=lambda: float(next(ticks)),
    )
    assert r.stopped == "time" and r.generations_run == 3  # readings at 25, 50, 75 s: over 60 s at the 3rd
    gens = [int(line.split(",")[1]) for line in log.getvalue().splitlines()]
    assert sorted(set(gens)) == [0, 2]  # every 5th generation, plus the last one
