"""Training: both stages end to end, checkpoints, resume, schedules and DDP on two CPU processes."""
from __future__ import annotations

import csv
import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from _train_data import make_tiny_camvid
from enet_train import evaluate, train
from enet_train.checkpoint import CheckpointError, load_checkpoint
from enet_train.distributed import DistInfo
from enet_train.losses import SegmentationLoss
from enet_train.model import ENet, count_parameters


def parse(data, out, *extra: str):
    return train.get_args_parser().parse_args(
        ["--data", str(data), "--output-dir", str(out), "--train-size", "32", "32",
         "--batch-size", "2", "--workers", "0", "--threads", "1", "--epochs-encoder", "1",
         "--epochs-full", "1", *extra])


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """32x40 images: no padding, so training's validation and evaluate.py see the same pixels."""
    return make_tiny_camvid(tmp_path_factory.mktemp("camvid"), height=32)


@pytest.fixture
def handed_over(monkeypatch) -> list:
    """The encoder checkpoints stage full is started from, as training loads them."""
    paths = []
    real_load_encoder = train.load_encoder

    def spy(model, path):
        paths.append(path)
        real_load_encoder(model, path)

    monkeypatch.setattr(train, "load_encoder", spy)
    return paths


def test_both_stages_write_checkpoints_logs_and_pictures(data, tmp_path, handed_over):
    args = parse(data, tmp_path, "--scale", "0.75", "1.5", "--flip", "--jitter", "0.2",
                 "--lr-schedule", "cosine", "--warmup-epochs", "0.5")
    assert train.main(args) == 0
    assert handed_over == [str(tmp_path / "encoder" / "best.pth")]
    for stage in ("encoder", "full"):
        folder = tmp_path / stage
        checkpoint = torch.load(folder / "last.pth", map_location="cpu", weights_only=True)
        assert checkpoint["epoch"] == 1 and checkpoint["stage"] == stage
        assert checkpoint["args"]["lr"] == 5e-4 and checkpoint["args"]["train_size"] == [32, 32]
        assert set(checkpoint) >= {"model", "optimizer", "scheduler", "scaler", "best_miou",
                                   "class_names", "history"}
        assert 0 <= checkpoint["best_miou"] <= 1
        assert checkpoint["metrics"]["mean_iou"] == pytest.approx(checkpoint["best_miou"])
        assert set(checkpoint["metrics"]["per_class"]) == set(checkpoint["class_names"])
        assert (folder / "best.pth").is_file() and (folder / "curves.png").stat().st_size > 1000
        assert "| Sky |" in (folder / "per_class_iou.md").read_text()
        rows = list(csv.DictReader((folder / "log.csv").open()))
        assert [r["epoch"] for r in rows] == ["1"] and float(rows[0]["train_loss"]) > 0
        assert any((folder / "tb").iterdir())
    # checkpoints hold the weights of the parts each stage runs, so loaders tell them apart
    encoder_state = torch.load(tmp_path / "encoder" / "last.pth", weights_only=True)["model"]
    assert "encoder_head.weight" in encoder_state and "fullconv.weight" not in encoder_state
    assert "encoder_head.weight" not in torch.load(tmp_path / "full" / "last.pth",
                                                   weights_only=True)["model"]
    assert load_checkpoint(tmp_path / "encoder" / "best.pth").net.encoder_only
    assert not load_checkpoint(tmp_path / "full" / "best.pth").net.encoder_only
    assert (tmp_path / "class_weights.json").is_file()
    # enet-train evaluate on each best.pth reproduces the validation of training exactly
    for stage in ("encoder", "full"):
        best = tmp_path / stage / "best.pth"
        out = tmp_path / f"eval_{stage}"
        evaluate_args = evaluate.get_args_parser().parse_args(
            [str(best), "--data", str(data), "--output-dir", str(out), "--device", "cpu"])
        assert evaluate.main(evaluate_args) == 0
        report = json.loads((out / "report.json").read_text())
        want = torch.load(best, weights_only=True)["metrics"]
        assert report["mean_iou"] == pytest.approx(want["mean_iou"], abs=1e-12)
        assert report["per_class"] == want["per_class"]


def test_full_stage_starts_from_the_encoder_without_its_head(tmp_path):
    torch.manual_seed(0)
    encoder = ENet(11, encoder_only=True)
    torch.save({"model": encoder.state_dict()}, tmp_path / "enc.pth")
    full = ENet(11)
    head_before = full.encoder_head.weight.clone()
    train.load_encoder(full, tmp_path / "enc.pth")
    assert torch.equal(full.stage3[7].conv.weight, encoder.stage3[7].conv.weight)
    assert torch.equal(full.initial.conv.weight, encoder.initial.conv.weight)
    assert torch.equal(full.stage1[0].bn1.running_var, encoder.stage1[0].bn1.running_var)
    assert torch.equal(full.encoder_head.weight, head_before)
    assert not torch.equal(full.fullconv.weight, encoder.fullconv.weight)
    torch.save({"model": {}}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="bad.pth does not hold ENet weights"):
        train.load_encoder(full, tmp_path / "bad.pth")


def test_missing_or_foreign_resume_checkpoint_is_an_error(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path, "--resume", str(tmp_path / "none.pth"))) == 2
    assert "none.pth: no such checkpoint" in capsys.readouterr().err
    torch.save({"model": {}}, tmp_path / "weights.pth")
    assert train.main(parse(data, tmp_path, "--resume", str(tmp_path / "weights.pth"))) == 2
    assert "lacks args, epoch, optimizer" in capsys.readouterr().err


def test_data_errors_are_reported_not_raised(tmp_path, capsys):
    assert train.main(parse(tmp_path / "nowhere", tmp_path)) == 2
    assert "enet-train train: error:" in capsys.readouterr().err


def test_resume_continues_at_the_next_epoch_and_reports_changed_args(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path, "--stage", "encoder")) == 0
    last = tmp_path / "encoder" / "last.pth"
    changed = parse(data, tmp_path, "--stage", "encoder", "--epochs-encoder", "2", "--lr", "1e-3",
                    "--workers", "1", "--resume", str(last))
    assert train.main(changed) == 2
    message = capsys.readouterr().err
    assert "--epochs-encoder: 1 -> 2" in message and "--lr: 0.0005 -> 0.001" in message
    assert "--workers" not in message and "--allow-changed-args" in message
    assert torch.load(last, weights_only=True)["epoch"] == 1  # nothing ran

    allowed = parse(data, tmp_path, "--stage", "encoder", "--epochs-encoder", "2",
                    "--resume", str(last), "--allow-changed-args")
    assert train.main(allowed) == 0
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] == 2 and [h["epoch"] for h in checkpoint["history"]] == [1, 2]
    rows = list(csv.DictReader((tmp_path / "encoder" / "log.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]


def test_resume_refuses_a_checkpoint_of_a_later_stage(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path, "--stage", "full")) == 0
    last = tmp_path / "full" / "last.pth"
    assert train.main(parse(data, tmp_path, "--stage", "encoder", "--resume", str(last))) == 2
    assert "--stage: 'full' -> 'encoder'" in capsys.readouterr().err
    assert train.main(parse(data, tmp_path, "--stage", "encoder", "--resume", str(last),
                            "--allow-changed-args")) == 2
    assert "stage 'full' checkpoint, but --stage is encoder" in capsys.readouterr().err


@pytest.mark.parametrize("schedule, step, want", [
    ("constant", 0, 0.01), ("constant", 5, 0.505), ("constant", 10, 1.0), ("constant", 99, 1.0),
    ("poly", 10, 1.0), ("poly", 55, 0.5 ** 0.9), ("poly", 100, 0.0),
    ("cosine", 55, 0.5), ("cosine", 100, 0.0)])
def test_lr_factor_warmup_then_schedule(schedule, step, want):
    assert train.lr_factor(step, 100, 10, schedule) == pytest.approx(want)


def test_plain_args_drop_callbacks_a_cli_adds(tmp_path):
    args = parse("data", "out")
    args.func, args.command = (lambda a: 0), "train"
    plain = train.plain_args(args)
    assert "func" not in plain and plain["command"] == "train" and plain["train_size"] == [32, 32]
    torch.save({"args": plain}, tmp_path / "a.pth")
    assert torch.load(tmp_path / "a.pth", weights_only=True)["args"] == plain


def test_changed_args_ignores_runtime_only_arguments():
    saved = {"lr": 1.0, "workers": 4, "device": "cuda", "epochs_full": 3, "command": "train"}
    assert train.changed_args(saved, {"lr": 1.0, "workers": 0, "device": "cpu",
                                      "epochs_full": 4}) == ["--epochs-full: 3 -> 4"]


def test_changed_args_takes_an_argument_the_checkpoint_predates_as_its_default():
    saved = {"lr": 1.0}  # written before --width and --distill-weight existed
    assert train.changed_args(saved, {"lr": 1.0, "width": 1, "distill_weight": 1.0}) == []
    assert train.changed_args(saved, {"lr": 1.0, "width": 2}) == ["--width: 1 -> 2"]


def test_train_size_must_be_a_multiple_of_8(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse(data, tmp_path, "--train-size", "30", "32", "--stage", "full")
    assert exit_.value.code == 2
    assert "argument --train-size: 30 is not a multiple of 8" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_cpu_processes_agree_and_rank_0_writes(data, tmp_path):
    mp.set_forkserver_preload(["_train_ddp"])
    from _train_ddp import worker
    out = tmp_path / "run"
    argv = ["--data", str(data), "--output-dir", str(out), "--train-size", "32", "32",
            "--batch-size", "1", "--workers", "0", "--epochs-full", "1", "--flip"]
    mp.start_processes(worker, args=(2, free_port(), argv, str(tmp_path)), nprocs=2, join=True,
                       start_method="forkserver")
    checkpoint = torch.load(out / "full" / "last.pth", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 1
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert rank0.keys() == rank1.keys() >= checkpoint["model"].keys()
    for key, value in rank0.items():
        assert torch.equal(value, rank1[key]), key
    for key, value in checkpoint["model"].items():
        assert torch.equal(value, rank0[key]), key
    # the run did train: weights moved away from a fresh network with the same seed
    torch.manual_seed(0)
    assert not torch.equal(ENet(11).fullconv.weight, rank0["fullconv.weight"])
    assert len(list((out / "full" / "tb").iterdir())) == 1


def test_stage_full_starts_from_every_encoder_weight_and_statistic(data, tmp_path):
    """The hand-over copies the whole encoder, BatchNorm statistics included; with the encoder
    frozen for the whole stage its weights are still the checkpoint's afterwards while the
    decoder has trained."""
    assert train.main(parse(data, tmp_path, "--stage", "encoder")) == 0
    checkpoint = tmp_path / "encoder" / "best.pth"
    encoder = load_checkpoint(checkpoint).net.state_dict()
    full = ENet(11)
    train.load_encoder(full, checkpoint)
    encoder_keys = [k for k in encoder if k.split(".")[0] in train.ENCODER_MODULES]
    assert any("running_var" in k for k in encoder_keys)
    assert any("num_batches_tracked" in k for k in encoder_keys)
    for key in encoder_keys:
        assert torch.equal(full.state_dict()[key], encoder[key]), key

    out = tmp_path / "frozen"
    assert train.main(parse(data, out, "--stage", "full", "--encoder-checkpoint", str(checkpoint),
                            "--encoder-freeze-epochs", "1")) == 0
    trained = torch.load(out / "full" / "last.pth", weights_only=True)["model"]
    weights = [k for k in encoder_keys if k.endswith("weight") and "bn" not in k]
    assert weights and all(torch.equal(trained[k], encoder[k]) for k in weights)
    fresh = ENet(11)
    train.load_encoder(fresh, checkpoint)
    assert not torch.equal(trained["fullconv.weight"], fresh.fullconv.weight)


def _losses(autocast, steps: int = 4, compiled: bool = False, dropout: bool = True
            ) -> list[float]:
    """Losses of ``steps`` Adam steps on one fixed random batch (so the loss must fall)."""
    torch.manual_seed(0)
    model = ENet(11).to(memory_format=torch.channels_last)
    if not dropout:  # compiled dropout draws other masks than eager's
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout2d):
                module.p = 0.0
    generator = torch.Generator().manual_seed(1)
    batch = (torch.randn(2, 3, 64, 64, generator=generator),
             torch.randint(0, 11, (2, 64, 64), generator=generator))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    trained = torch.compile(model) if compiled else model
    return [train.train_one_epoch(trained, SegmentationLoss(None, 255), optimizer, scheduler,
                                  scaler, [batch], torch.device("cpu"), autocast, "test", False)
            for _ in range(steps)]


def test_bf16_training_steps_agree_with_float32():
    """bf16 keeps 8 bits of mantissa (relative rounding 2**-9, about 0.2 %) in the convolutions;
    through ENet's ~30 layers the loss of the same steps stays within 2 % of float32, while a
    wrong cast (labels, logits in bf16 through the loss) or a diverging update would not."""
    fp32, bf16 = _losses(None), _losses(torch.bfloat16)
    assert fp32 != bf16  # bf16 did run
    for a, b in zip(fp32, bf16):
        assert b == pytest.approx(a, rel=0.02)
    assert fp32[-1] < fp32[0] and bf16[-1] < bf16[0]


def test_compiled_training_steps_agree_with_eager():
    """torch.compile fuses ENet's BatchNorm, PReLU and unpooling into other kernels: the same
    steps (dropout off) must give the same losses up to float32 rounding, which Adam's
    normalised steps carry on (measured: 2.5e-4 apart after four steps, each of which lowers
    the loss by 3e-3 to 6e-3 relative), and the loss falls."""
    eager = _losses(None, dropout=False)
    compiled = _losses(None, compiled=True, dropout=False)
    assert eager[0] == pytest.approx(compiled[0], rel=1e-6)  # the same network before a step
    for a, b in zip(eager, compiled):
        assert b == pytest.approx(a, rel=1e-3)
    assert compiled[-1] < compiled[0]


def test_compile_trains_through_the_compiled_network_and_saves_the_plain_one(
        data, tmp_path, monkeypatch, capsys):
    """--compile hands torch.compile the network once and trains through what it returns;
    checkpoints keep the plain network's keys (no wrapper prefix), and a resume may drop it."""
    compiled = []

    def fake_compile(module):  # the real one is timed by benchmarks/train_step_speed.py
        compiled.append(module)
        return module

    monkeypatch.setattr(torch, "compile", fake_compile)
    calls = []
    real_train_one_epoch = train.train_one_epoch
    monkeypatch.setattr(train, "train_one_epoch",
                        lambda model, *a, **k: calls.append(model) or real_train_one_epoch(
                            model, *a, **k))
    assert train.main(parse(data, tmp_path, "--stage", "full", "--epochs-full", "2",
                            "--compile", "--time-limit", "1e-6")) == 0
    assert "channels-last, compiled, epochs 1..2" in capsys.readouterr().out
    assert len(compiled) == 1 and isinstance(compiled[0], ENet) and calls == compiled
    last = tmp_path / "full" / "last.pth"
    saved = torch.load(last, weights_only=True)
    assert saved["model"].keys() == train.used_state(ENet(11)).keys()
    assert train.main(parse(data, tmp_path, "--stage", "full", "--epochs-full", "2",
                            "--resume", str(last))) == 0
    assert "channels-last, epochs 2..2" in capsys.readouterr().out
    assert len(compiled) == 1


def test_precision_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert train.resolve_precision("fp32", cpu) is None
    assert train.resolve_precision("bf16", cpu) is torch.bfloat16
    assert train.resolve_precision("fp16", torch.device("cuda")) is torch.float16
    assert train.resolve_precision("auto", torch.device("cuda")) is torch.float16
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: True)
    assert train.resolve_precision("auto", cpu) is torch.bfloat16
    monkeypatch.setattr(train, "cpu_has_native_bf16", lambda: False)
    assert train.resolve_precision("auto", cpu) is None
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        train.resolve_precision("fp16", cpu)


def test_fp16_on_a_cpu_is_a_usage_error(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path, "--device", "cpu", "--precision", "fp16")) == 2
    assert "--precision fp16 needs CUDA" in capsys.readouterr().err


@pytest.mark.parametrize("average", [(), ("--ema-epochs", "1")], ids=["weights", "ema"])
def test_time_limit_stops_cleanly_and_resume_continues_exactly(data, tmp_path, capsys, average):
    """Two epochs in one go, and one epoch cut by --time-limit then resumed, end with the same
    weights bit for bit: crops, flips, jitter, dropout and the sampler continue where they were,
    and so does the weight average."""
    common = ("--stage", "full", "--epochs-full", "2", "--scale", "0.75", "1.5", "--flip",
              "--jitter", "0.2", "--lr-schedule", "poly", "--precision", "bf16", *average)
    assert train.main(parse(data, tmp_path / "straight", *common)) == 0
    assert train.main(parse(data, tmp_path / "cut", *common, "--time-limit", "1e-6")) == 0
    last = tmp_path / "cut" / "full" / "last.pth"
    assert "time limit: stopped after full epoch 1/2" in capsys.readouterr().out
    assert torch.load(last, weights_only=True)["epoch"] == 1
    assert train.main(parse(data, tmp_path / "cut", *common, "--resume", str(last))) == 0
    straight = torch.load(tmp_path / "straight" / "full" / "last.pth", weights_only=True)
    resumed = torch.load(last, weights_only=True)
    assert resumed["epoch"] == straight["epoch"] == 2
    for part in ("model", "training_model") if average else ("model",):
        for key, value in straight[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)
    assert [h["train_loss"] for h in resumed["history"]] == \
        [h["train_loss"] for h in straight["history"]]
    if average:  # the checkpoint's network (what export reads) is the average, not the weights
        assert resumed["ema_updates"] == straight["ema_updates"] > 0
        assert not torch.equal(resumed["model"]["fullconv.weight"],
                               resumed["training_model"]["fullconv.weight"])
        loaded = load_checkpoint(last).net.state_dict()
        assert torch.equal(loaded["fullconv.weight"], resumed["model"]["fullconv.weight"])


def test_log_has_every_class_iou_on_val_and_the_training_subset(data, tmp_path):
    assert train.main(parse(data, tmp_path, "--stage", "full", "--train-eval-images", "3")) == 0
    row = next(csv.DictReader((tmp_path / "full" / "log.csv").open()))
    for split in ("val", "train"):
        values = [row[f"{split}_iou_{name}"] for name in ("Sky", "Bicyclist")]
        assert all(v != "" for v in values)
    history = torch.load(tmp_path / "full" / "last.pth", weights_only=True)["history"]
    assert len(history[0]["train_class_iou"]) == len(history[0]["val_class_iou"]) == 11
    assert 0 <= float(row["train_miou"]) <= 1


def test_init_checkpoint_fine_tunes_the_whole_trained_network(data, tmp_path, capsys):
    """--init-checkpoint hands stage full every weight of a trained network (at learning rate 0
    they come out unchanged), with the Lovasz loss added; misuse is an error that says why."""
    assert train.main(parse(data, tmp_path / "first", "--stage", "full")) == 0
    trained = tmp_path / "first" / "full" / "last.pth"
    state = {k: v for k, v in load_checkpoint(trained).net.state_dict().items()
             if not k.startswith("encoder_head.")}  # never run, never stored
    loaded = ENet(11)
    train.load_network(loaded, trained)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())

    out = tmp_path / "tuned"
    assert train.main(parse(data, out, "--stage", "full", "--init-checkpoint", str(trained),
                            "--lovasz-weight", "1", "--lr", "0")) == 0
    tuned = torch.load(out / "full" / "last.pth", weights_only=True)
    assert tuned["args"]["lovasz_weight"] == 1.0
    weights = [k for k in state if k.endswith("weight") and "bn" not in k]
    assert weights and all(torch.equal(tuned["model"][k], state[k]) for k in weights)

    with pytest.raises(CheckpointError, match="has 11 classes, the data set 5"):
        train.load_network(ENet(5), trained)
    assert train.main(parse(data, tmp_path / "enc", "--stage", "encoder")) == 0
    with pytest.raises(CheckpointError, match="stage-encoder checkpoint"):
        train.load_network(ENet(11), tmp_path / "enc" / "encoder" / "best.pth")
    capsys.readouterr()
    for extra in (["--stage", "both"], ["--stage", "full", "--encoder-checkpoint", str(trained)]):
        assert train.main(parse(data, tmp_path / "x", "--init-checkpoint", str(trained),
                                *extra)) == 2
        assert "--init-checkpoint starts stage full" in capsys.readouterr().err


def test_training_on_train_plus_val_says_val_scores_are_on_seen_images(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path, "--stage", "encoder",
                            "--train-split", "train+val")) == 0
    assert "--val-split val is inside --train-split train+val" in capsys.readouterr().err
    state = torch.load(tmp_path / "encoder" / "last.pth", weights_only=True)
    assert state["args"]["train_split"] == "train+val"


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    """Frames of three sequences, A and C in train, B and C in val (B_, C_ file names)."""
    root = tmp_path_factory.mktemp("sequences")
    make_tiny_camvid(root, {"train": 4}, height=32, sequences=("A", "C"))
    make_tiny_camvid(root, {"val": 4}, height=32, seed=1, sequences=("B", "C"))
    return root


def test_val_sequences_trains_on_the_other_sequences_and_validates_on_the_held_out_one(
        sequences, tmp_path, capsys, monkeypatch):
    scored = []
    real_validate = train.validate

    def spy(model, loader, *rest, **kw):
        scored.append(sorted(p[0].name for p in getattr(loader.dataset, "dataset",
                                                        loader.dataset).pairs))
        return real_validate(model, loader, *rest, **kw)

    monkeypatch.setattr(train, "validate", spy)
    args = parse(sequences, tmp_path, "--stage", "full", "--train-split", "train+val",
                 "--val-sequences", "B", "--train-eval-images", "8")
    assert train.main(args) == 0
    out = capsys.readouterr()
    assert "training on 6 frames (A 2, C 4); validating on 2 frames (B 2)" in out.out
    assert "inside --train-split" not in out.err
    assert scored[0] == ["B_0000.png", "B_0002.png"]
    assert not any(name.startswith("B_") for name in scored[1])  # the training subset
    state = torch.load(tmp_path / "full" / "last.pth", weights_only=True)
    assert state["args"]["val_sequences"] == "B"
    # its weights: the fold's, with the sequence left out, not the whole split's
    assert json.loads((tmp_path / "class_weights.json").read_text())["for"]["key"].endswith(
        "train+val:without:B")
    report = tmp_path / "report"
    evaluate_args = evaluate.get_args_parser().parse_args(
        [str(tmp_path / "full" / "last.pth"), "--data", str(sequences), "--split", "train+val",
         "--val-sequences", "B", "--output-dir", str(report), "--device", "cpu"])
    assert evaluate.main(evaluate_args) == 0
    got = json.loads((report / "report.json").read_text())
    assert got["sequences"] == {"B": 2} and got["seen_in_training"] is False
    assert got["mean_iou"] == pytest.approx(state["metrics"]["mean_iou"], abs=1e-12)
    assert sum(got["labelled_pixels"].values()) == sum(map(sum, got["confusion_matrix"]))
    seen = evaluate.get_args_parser().parse_args(
        [str(tmp_path / "full" / "last.pth"), "--data", str(sequences), "--split", "train",
         "--output-dir", str(tmp_path / "seen"), "--device", "cpu"])
    capsys.readouterr()
    assert evaluate.main(seen) == 0
    assert "was trained on these frames" in capsys.readouterr().err


def test_val_sequences_each_runs_one_fold_a_sequence(sequences, tmp_path, capsys):
    args = parse(sequences, tmp_path, "--stage", "encoder", "--train-split", "train+val",
                 "--val-sequences", "each", "--train-eval-images", "0")
    assert train.main(args) == 0
    for sequence in ("A", "B", "C"):
        state = torch.load(tmp_path / sequence / "encoder" / "last.pth", weights_only=True)
        assert state["args"]["val_sequences"] == sequence
        assert state["args"]["output_dir"] == str(tmp_path / sequence)
    assert "validating on 4 frames (C 4)" in capsys.readouterr().out
    assert train.main(parse(sequences, tmp_path, "--val-sequences", "X")) == 2
    assert "no sequence X; its sequences are A, C" in capsys.readouterr().err


def test_a_held_out_sequence_never_picks_the_encoder_that_stage_full_starts_from(
        sequences, tmp_path, handed_over):
    args = parse(sequences, tmp_path, "--train-split", "train+val", "--val-sequences", "B",
                 "--train-eval-images", "0")
    assert train.main(args) == 0
    assert handed_over == [str(tmp_path / "encoder" / "last.pth")]


def test_distillation_from_a_wider_teacher_trains_the_papers_network(data, tmp_path):
    assert train.main(parse(data, tmp_path / "teacher", "--stage", "full", "--width", "2")) == 0
    teacher_path = tmp_path / "teacher" / "full" / "last.pth"
    teacher = load_checkpoint(teacher_path).net
    assert teacher.width == 2 and teacher.initial.bn.num_features == 32
    args = parse(data, tmp_path / "student", "--stage", "full", "--teacher", str(teacher_path),
                 "--distill-weight", "0.5", "--distill-temperature", "2")
    assert train.main(args) == 0
    student = load_checkpoint(tmp_path / "student" / "full" / "last.pth").net
    assert student.width == 1 and count_parameters(student) == count_parameters(ENet(11))


def test_a_teacher_that_is_not_a_whole_network_of_the_classes_is_refused(data, tmp_path, capsys):
    assert train.main(parse(data, tmp_path / "enc", "--stage", "encoder")) == 0
    encoder = tmp_path / "enc" / "encoder" / "last.pth"
    torch.save({"model": ENet(11).state_dict()}, tmp_path / "enc" / "full.pth")
    assert train.main(parse(data, tmp_path / "s", "--stage", "full", "--teacher",
                            str(encoder))) == 2
    assert "--teacher" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="needs a full network of 5 classes, got a "
                                              "network of 11"):
        train.load_teacher(str(tmp_path / "enc" / "full.pth"), 5, torch.device("cpu"))


def test_resuming_the_encoder_stage_still_hands_its_encoder_to_stage_full(data, tmp_path,
                                                                        monkeypatch):
    assert train.main(parse(data, tmp_path, "--stage", "encoder")) == 0
    handed_over = []
    monkeypatch.setattr(train, "load_encoder", lambda model, path: handed_over.append(path))
    args = parse(data, tmp_path, "--stage", "both", "--epochs-encoder", "2", "--resume",
                 str(tmp_path / "encoder" / "last.pth"), "--allow-changed-args")
    assert train.main(args) == 0
    assert handed_over == [str(tmp_path / "encoder" / "best.pth")]
