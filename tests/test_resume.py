"""A killed `predict particles` run, resumed, gives the files of an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orescope.errors import InputError
from orescope.jobs import ParticleConfig, particle_run, run_particles
from orescope.jobs.manifest import MANIFEST
from orescope.synth import SceneConfig, write_scenes

CONFIG = ParticleConfig(method="threshwater", mm_per_px=0.25)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    write_scenes(folder, SceneConfig(height=192, width=192, mm_per_px=0.25, seed=40), 6, False)
    return folder / "images"


@pytest.fixture(scope="module")
def uninterrupted(photos, tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("whole")
    run_particles([photos], out, CONFIG, progress=False, workers=1)
    return _files(out)


def _files(out: Path) -> dict[str, bytes]:
    """Every output's bytes by its path, but the manifest (bookkeeping, not a result)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def _counting(monkeypatch) -> list[Path]:
    done: list[Path] = []
    process = particle_run._process

    def counted(job, config):
        done.append(job[0])
        return process(job, config)

    monkeypatch.setattr(particle_run, "_process", counted)
    return done


def test_a_resumed_run_redoes_only_what_was_cut_and_matches_an_uninterrupted_one(
    photos, uninterrupted, tmp_path, monkeypatch
):
    run_particles([photos], tmp_path, CONFIG, progress=False, workers=1)
    # as a kill leaves it: the last image's entry cut mid-line, one output half-written
    manifest = tmp_path / MANIFEST
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])
    last = json.loads(lines[-1])["name"]
    (tmp_path / last / "overlay.png").unlink()
    (tmp_path / last / ".overlay.partial.png").write_bytes(b"\x89PNG half")
    (tmp_path / "summary.csv").unlink()
    done = _counting(monkeypatch)
    outcome = run_particles([photos], tmp_path, CONFIG, progress=False, workers=1, resume=True)
    assert [p.parent.name + "/" + p.stem for p in done] == [f"images/{last}"]
    assert len(outcome.resumed) == 5 and len(outcome.processed) == 6
    assert _files(tmp_path) == uninterrupted


def test_a_changed_input_is_done_again(photos, tmp_path, monkeypatch):
    copies = tmp_path / "photos"
    copies.mkdir()
    for photo in sorted(photos.iterdir())[:2]:
        (copies / photo.name).write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    run_particles([copies], out, CONFIG, progress=False, workers=1)
    first = sorted(copies.iterdir())[0]
    first.write_bytes(sorted(photos.iterdir())[2].read_bytes())  # another photo, same name
    done = _counting(monkeypatch)
    outcome = run_particles([copies], out, CONFIG, progress=False, workers=1, resume=True)
    assert done == [first] and outcome.resumed == [str(sorted(copies.iterdir())[1])]


def test_without_resume_a_run_starts_afresh(photos, tmp_path, monkeypatch):
    run_particles([photos], tmp_path, CONFIG, progress=False, workers=1)
    done = _counting(monkeypatch)
    outcome = run_particles([photos], tmp_path, CONFIG, progress=False, workers=1)
    assert len(done) == 6 and outcome.resumed == []


@pytest.mark.parametrize("resume", [False, True])
def test_a_folder_holding_a_run_with_other_settings_is_refused(photos, tmp_path, resume):
    run_particles([photos], tmp_path, CONFIG, progress=False, workers=1)
    other = CONFIG.model_copy(update={"min_area_px": 30})
    with pytest.raises(InputError, match="a run with other settings"):
        run_particles([photos], tmp_path, other, progress=False, workers=1, resume=resume)


def test_kill_9_mid_run_then_resume_gives_the_uninterrupted_files(photos, uninterrupted, tmp_path):
    command = [
        sys.executable,
        "-m",
        "orescope",
        "predict",
        "particles",
        str(photos),
        "--out",
        str(tmp_path),
        "--method",
        "threshwater",
        "--mm-per-px",
        "0.25",
        "--workers",
        "1",
    ]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / MANIFEST
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if manifest.exists() and len(manifest.read_text().splitlines()) >= 3:  # 2 images done
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert 3 <= len(manifest.read_text().splitlines()) < 7  # killed mid-run
    outcome = run_particles([photos], tmp_path, CONFIG, progress=False, workers=1, resume=True)
    assert len(outcome.resumed) >= 2
    assert _files(tmp_path) == uninterrupted
