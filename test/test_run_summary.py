"""enet-train summary: last, best and last-N mean IoU of runs from their log.csv files."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from enet_train import cli
from enet_train.run_summary import LogError, markdown, summarize

COLUMNS = ["epoch", "lr", "train_loss", "val_miou", "val_mean_class_accuracy", "train_miou",
           "seconds", "val_iou_Sky", "val_iou_Pole", "train_iou_Sky", "train_iou_Pole"]


def write_log(path: Path, validations: dict[int, tuple[float, float, float, float]],
              epochs: int) -> Path:
    """A log.csv as enet-train writes it: val_miou and train_miou as fractions, class IoU
    in percent, empty cells on epochs without a validation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for epoch in range(1, epochs + 1):
            if epoch in validations:
                miou, sky, pole, train = validations[epoch]
                out.writerow([epoch, 1e-3, 0.5, miou, 0.6, train, 100.0, sky, pole, 90.0, 10.0])
            else:
                out.writerow([epoch, 1e-3, 0.5, "", "", "", 100.0, "", "", "", ""])
    return path


@pytest.fixture
def log(tmp_path):
    # validations at 2, 4, 6, 7: mean IoU 30, 50, 40, 20 %
    return write_log(tmp_path / "fold_X" / "full" / "log.csv",
                     {2: (0.30, 80.0, 20.0, 0.6), 4: (0.50, 90.0, 30.0, 0.7),
                      6: (0.40, 70.0, 10.0, 0.8), 7: (0.20, 60.0, 5.0, 0.9)}, epochs=7)


def test_summary_of_a_run(log):
    s = summarize(log, window=3)
    assert s.name == "fold_X/full" and s.epochs == 7
    assert s.validations == ((2, 30.0), (4, 50.0), (6, 40.0), (7, 20.0))
    assert s.last == (7, 20.0) and s.best == (4, 50.0)
    assert s.last_mean == pytest.approx((50 + 40 + 20) / 3)
    assert s.class_means == pytest.approx({"Sky": (90 + 70 + 60) / 3, "Pole": (30 + 10 + 5) / 3})
    assert s.train_last == pytest.approx(90.0)
    assert s.thin(25.0) == pytest.approx({"Pole": 15.0})
    assert summarize(log, window=10).last_mean == pytest.approx(35.0)  # all four
    copied = log.parent.parent / "fold_X_full_log.csv"
    copied.write_text(log.read_text())
    assert summarize(copied).name == "fold_X_full_log"


def test_markdown_rows(log, tmp_path):
    fresh = write_log(tmp_path / "fold_Y" / "encoder" / "log.csv", {}, epochs=2)
    table = markdown([summarize(log, window=3), summarize(fresh)], thin=16.0)
    assert table.splitlines() == [
        "| run | epochs | last validation | best | mean of last validations | training subset "
        "| classes under 16 % (their means) |",
        "|---|---:|---:|---:|---:|---:|---|",
        "| fold_X/full | 7 | 20.0 % (epoch 7) | 50.0 % (epoch 4) | 36.7 % (3: epochs 4-7) "
        "| 90.0 % | Pole 15.0 |",
        "| fold_Y/encoder | 2 | none yet | | | | |"]
    assert markdown([summarize(log, window=3)], thin=10.0).endswith("| 90.0 % | none |")


def test_what_is_not_a_log_is_an_error(tmp_path):
    with pytest.raises(LogError, match="cannot read .*missing.csv"):
        summarize(tmp_path / "missing.csv")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(LogError, match="not an enet-train log.csv"):
        summarize(other)
    bad = write_log(tmp_path / "r" / "s" / "log.csv", {1: (0.3, 1.0, 2.0, 0.5)}, epochs=1)
    bad.write_text(bad.read_text().replace(",1.0,2.0,", ",oops,2.0,"))
    with pytest.raises(LogError, match="val_iou_Sky of epoch 1 is not a number: 'oops'"):
        summarize(bad)


def test_cli_prints_the_table_and_reports_errors_in_one_line(log, tmp_path, capsys):
    assert cli.main(["summary", str(log), "--last", "2", "--thin", "30"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == ("| fold_X/full | 7 | 20.0 % (epoch 7) | 50.0 % (epoch 4) "
                      "| 30.0 % (2: epochs 6-7) | 90.0 % | Pole 7.5 |")
    assert cli.main(["summary", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("enet-train summary: error: cannot read") and err.count("\n") == 1
