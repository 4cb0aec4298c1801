import json
import os
import subprocess
import sys

import pytest

from wikiart.cli import main


def files_on_disk(split_dir):
    counts = {}
    for style in sorted(os.listdir(split_dir)):
        if style.startswith("."):
            continue
        n = sum(
            1
            for _, _, files in os.walk(os.path.join(split_dir, style))
            for f in files
            if not f.startswith(".")
        )
        counts[style] = n
    return counts


def run_json(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_stats_json_counts_files_on_disk(tiny_root, capsys):
    code, stats = run_json(capsys, "data", "stats", str(tiny_root), "--json")
    assert code == 0
    for split in ("train", "test"):
        assert stats["splits"][split]["counts"] == files_on_disk(tiny_root / split)
    assert stats["splits"]["train"]["imbalance_ratio"] == 4.0
    assert stats["splits"]["test"]["imbalance_ratio"] == 1.0


def test_stats_table(tiny_root, capsys):
    assert main(["data", "stats", str(tiny_root)]) == 0
    out = capsys.readouterr().out
    assert "Baroque" in out and "imbalance (max/min)" in out and "total" in out


@pytest.mark.shared_data
def test_stats_on_real_sample_matches_disk(sample_root, capsys):
    code, stats = run_json(capsys, "data", "stats", str(sample_root), "--json")
    assert code == 0
    assert stats["splits"]["train"]["counts"] == files_on_disk(sample_root / "train")
    assert stats["splits"]["test"]["counts"] == files_on_disk(sample_root / "test")
    assert stats["splits"]["train"]["total"] == 3209 and stats["splits"]["test"]["total"] == 440


def test_missing_folder_exits_2_with_one_line(tmp_path, capsys):
    assert main(["data", "stats", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wikiart: error:") and "not found" in err[0]


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["data", "stats"])
    assert info.value.code == 2


def test_cache_command(tiny_root, tmp_path, capsys):
    argv = ["data", "cache", str(tiny_root), "--image-size", "16", "--cache-dir", str(tmp_path)]
    assert main([*argv, "--workers", "1"]) == 0
    assert "10 images, 0 reused, 10 decoded" in capsys.readouterr().out
    assert main(argv) == 0
    assert "10 images, 10 reused, 0 decoded" in capsys.readouterr().out


def test_subprocess_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "wikiart", "data", "check", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "wikiart: error:" in proc.stderr


def test_check_clean_dataset_exits_0(tiny_root, capsys):
    assert main(["data", "check", str(tiny_root), "--workers", "1"]) == 0


def test_check_names_every_bad_file_and_exits_1(tiny_root):
    bad = {
        "empty.jpg": b"",
        "text.jpg": b"not an image at all\n" * 5,
        "random.png": os.urandom(300),
    }
    for name, data in bad.items():
        (tiny_root / "train" / "Cubism" / name).write_bytes(data)
    good = (tiny_root / "train" / "Baroque" / "img0.jpg").read_bytes()
    (tiny_root / "train" / "Cubism" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    proc = subprocess.run(
        [sys.executable, "-m", "wikiart", "data", "check", str(tiny_root), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    named = {os.path.basename(b["path"]) for b in report["bad_files"]}
    assert named == {*bad, "truncated.jpg"}
