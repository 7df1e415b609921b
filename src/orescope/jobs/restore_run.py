"""``orescope restore`` over many files: wet photos of ore made dry before particles are
measured, and ``evaluate restore`` against dry references (PSNR, SSIM).

A bad image is recorded with its reason and skipped; the others are still written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.progress import track

from orescope.errors import InputError
from orescope.infer.restoration import INPAINT, restoration_model, restore_photo
from orescope.io import find_images, output_names, read_image, write_image, write_table, write_text
from orescope.jobs.manifest import Manifest
from orescope.jobs.particle_run import RunOutcome
from orescope.metrics import psnr, ssim


def run_restore(
    inputs: list[str | Path],
    out: str | Path,
    model: str = "restore",
    progress: bool = True,
    resume: bool = False,
) -> RunOutcome:
    """Restore every image under ``inputs`` into ``out/<stem>.png`` (uint8 RGB, the input's
    size) by a restoration ``model`` (zoo name, folder or ``.safetensors`` file; tiled with
    blending, :func:`~orescope.infer.restoration.restore_image`), or by ``inpaint``: the
    specular highlights found and painted over (paper 004's classical comparison).
    ``failures.csv`` lists the images that could not be read or restored. ``resume`` keeps
    what a killed run into ``out`` finished (:mod:`orescope.jobs.manifest`).

    Raises
    ------
    InputError
        When the model cannot be loaded or is no restoration model, when no image could be
        restored, or when ``out`` holds a run with other settings.
    """
    if model != INPAINT:
        restoration_model(model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_dump({"model": model}, sort_keys=False)
    manifest = Manifest(out, settings, resume)
    write_text(out / "config.yaml", settings)
    outcome = RunOutcome()
    paths = find_images(inputs)
    jobs = list(zip(paths, output_names(paths), strict=True))
    for path, name in track(jobs, description="restore", disable=not progress):
        if manifest.finished(path, name):
            outcome.resumed.append(str(path))
            outcome.processed.append(str(path))
            continue
        try:
            restored = restore_photo(read_image(path), model)
        except InputError as error:
            outcome.failures.append((str(path), error.reason))
            continue
        except ValueError as error:  # a photo the model cannot take
            outcome.failures.append((str(path), str(error)))
            continue
        write_image(out / f"{name}.png", restored)
        manifest.record(path, name)
        outcome.processed.append(str(path))
    failures = out / "failures.csv"
    if outcome.failures:
        write_table(failures, pd.DataFrame(outcome.failures, columns=["file", "reason"]))
    else:
        failures.unlink(missing_ok=True)
    if not outcome.processed:
        file, reason = outcome.failures[0]
        raise InputError(file, f"{reason}; no image could be restored")
    return outcome


def evaluate_restore(pred: str | Path, truth: str | Path, out: str | Path) -> dict:
    """PSNR (dB) and SSIM of every ``pred/<stem>.png`` against ``truth/<stem>.*`` (the dry
    image), per image and their mean, written to ``out/metrics.json``; predictions without a
    reference, or of another size, are listed under ``failures``. An image identical to its
    reference has no finite PSNR: it is written as null and left out of the mean PSNR.

    Raises
    ------
    InputError
        When no prediction has a reference to be scored against.
    """
    pred, truth = Path(pred), Path(truth)
    references = {p.stem: p for p in find_images([truth])}
    images: dict[str, dict[str, float | None]] = {}
    skipped: dict[str, str] = {}
    for path in find_images([pred]):
        if path.stem not in references:
            skipped[path.stem] = "no reference image of that name"
            continue
        restored, dry = read_image(path), read_image(references[path.stem])
        if restored.shape != dry.shape:
            skipped[path.stem] = f"shape {restored.shape} differs from the reference's {dry.shape}"
            continue
        identical = np.array_equal(dry, restored)  # no finite PSNR: written as null
        images[path.stem] = {
            "psnr_db": None if identical else psnr(dry, restored),
            "ssim": ssim(dry, restored),
        }
    if not images:
        raise InputError(pred, f"no restored image has a reference in {truth}")
    mean: dict[str, float | None] = {}
    for key in ("psnr_db", "ssim"):
        finite = [value for s in images.values() if (value := s[key]) is not None]
        mean[key] = float(np.mean(finite)) if finite else None
    result = {"images": images, "mean": mean, "failures": skipped}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    return result
