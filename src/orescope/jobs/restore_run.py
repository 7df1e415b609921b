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
from orescope.io import find_images, output_names, read_image, write_image, write_table, write_text
from orescope.jobs.manifest import Manifest
from orescope.jobs.particle_run import RunOutcome
from orescope.metrics import psnr, ssim
from orescope.preprocess.restore import inpaint_highlights


def run_restore(
    inputs: list[str | Path], out: str | Path, progress: bool = True, resume: bool = False
) -> RunOutcome:
    """Restore every image under ``inputs`` into ``out/<stem>.png`` (uint8 RGB, the input's
    size): its specular highlights found and painted over
    (:func:`~orescope.preprocess.restore.inpaint_highlights`, paper 004's classical
    comparison); ``failures.csv`` lists the images that could not be read. ``resume`` keeps
    what a killed run into ``out`` finished (:mod:`orescope.jobs.manifest`).

    Raises
    ------
    InputError
        When no image could be restored, or ``out`` holds a run with other settings.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_dump({"method": "inpaint"}, sort_keys=False)
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
            image = read_image(path)
        except InputError as error:
            outcome.failures.append((str(path), error.reason))
            continue
        write_image(out / f"{name}.png", inpaint_highlights(image))
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
    reference, or of another size, are listed under ``failures``.

    Raises
    ------
    InputError
        When no prediction has a reference to be scored against.
    """
    pred, truth = Path(pred), Path(truth)
    references = {p.stem: p for p in find_images([truth])}
    images, skipped = {}, {}
    for path in find_images([pred]):
        if path.stem not in references:
            skipped[path.stem] = "no reference image of that name"
            continue
        restored, dry = read_image(path), read_image(references[path.stem])
        if restored.shape != dry.shape:
            skipped[path.stem] = f"shape {restored.shape} differs from the reference's {dry.shape}"
            continue
        images[path.stem] = {"psnr_db": psnr(dry, restored), "ssim": ssim(dry, restored)}
    if not images:
        raise InputError(pred, f"no restored image has a reference in {truth}")
    mean = {key: float(np.mean([s[key] for s in images.values()])) for key in ("psnr_db", "ssim")}
    result = {"images": images, "mean": mean, "failures": skipped}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    return result
