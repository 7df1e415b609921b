"""Particle benchmark tables: paper 000's table on our data, the equal-budget comparison, the
classical methods and the border-core decoding (particle_models.json and its kin)."""

from __future__ import annotations

from typing import Any

from .formatting import (
    Column,
    best_marked,
    bold,
    code,
    fixed,
    markdown_table,
    records_table,
    score,
    signed_pct,
)
from .results import PlaceholderError, bench_constant, dig, results

COMPARISON_MODELS = ("RA-UNet++", "U-Net")  # paper 000's equal-budget models: papers page
VARIANTS = (" + TTA", " + size given")  # prediction options, in prose on the papers page
ERROR_COLUMNS = [
    Column("P50 error (count)", "count_P50_error", signed_pct, "absmin"),
    Column("P50 error (mass)", "mass_P50_error", signed_pct, "absmin"),
]
INSTANCE_COLUMNS = [
    Column("η", "eta", score, "max"),
    Column("AP@0.5", "ap50", score, "max"),
    Column("merger", "merger_ratio", score, "min"),
    Column("splitter", "splitter_ratio", score, "min"),
]
PIXEL_COLUMNS = [
    Column("ACC", "accuracy"),
    Column("MIoU", "mean_iou"),
    Column("F1", "f1"),
]
SPEED_COLUMN = Column("s/MP", "seconds_per_mp", fixed(2))


def particle_label(key: str) -> str:
    """A particle_models.json row name as a reader knows the options."""
    base, _, variant = key.partition(" + ")
    label = code("particles") if base == "particles (zoo)" else base
    if variant == "TTA":
        return f"{label} + `--tta`"
    if variant.startswith("scales "):
        return f"{label} + `--scales {variant.removeprefix('scales ')}`"
    if variant == "size given":
        return f"{label}, size given (`--particle-px`)"
    return f"{label} + {variant}" if variant else label


def _particle_data(data: str) -> dict[str, Any]:
    table = results("particle_models")
    if data not in table:
        raise PlaceholderError(f"particle_models.json has no data set {data!r} ({list(table)})")
    rows: dict[str, Any] = table[data]
    return rows


def particle_models(data: str = "gravel") -> str:
    """Paper 000 Table 2 on our data: classical methods and the zoo model (every row of
    particle_models.json but the equal-budget comparison models) on one held-out set."""
    rows = [
        (particle_label(key), record)
        for key, record in _particle_data(data).items()
        if not key.startswith(COMPARISON_MODELS)
    ]
    columns = PIXEL_COLUMNS + INSTANCE_COLUMNS + ERROR_COLUMNS + [SPEED_COLUMN]
    return records_table("method", rows, columns)


def paper000(data: str = "synthetic") -> str:
    """Paper 000's comparison at an equal budget: RA-UNet++ and U-Net, foreground and
    border-core targets, on one held-out set; the zoo model below them for reference."""
    records = _particle_data(data)
    rows = [
        (key, record)
        for key, record in records.items()
        if key.startswith(COMPARISON_MODELS) and not key.endswith(VARIANTS)
    ]
    compete = [True] * len(rows)
    if "particles (zoo)" in records:
        rows.append(
            ("zoo `particles` (its longer schedule; for reference)", records["particles (zoo)"])
        )
        compete.append(False)
    columns = [
        Column("AP@0.5", "ap50", score, "max"),
        Column("η", "eta", score, "max"),
        Column("merger", "merger_ratio"),
        Column("splitter", "splitter_ratio"),
        SPEED_COLUMN,
    ]
    return records_table("model", rows, columns, compete)


def classical_particles() -> str:
    """Otsu and ThreshWater on synthetic scenes and all the gravel images
    (classical_particles.json)."""
    data = results("classical_particles")
    names = {"synthetic": "synthetic belt scenes", "gravel": "real gravel, all images"}
    methods = {"otsu": "Otsu", "threshwater": "ThreshWater"}
    rows = []
    for data_key, label in names.items():
        for method, method_label in methods.items():
            rows.append((f"{label}: {method_label}", dig(data, [data_key, method], "classical")))
    columns = [
        Column("particles per image (reference)", "n_truth", fixed(0)),
        Column("found", "n_pred", fixed(0)),
        Column("AP@0.5", "ap50"),
        Column("F1_match", "f1_match"),
        Column("merger", "merger_ratio"),
        Column("splitter", "splitter_ratio"),
        Column("P50 error (mass)", "mass_P50_error", signed_pct),
        Column("P80 error (mass)", "mass_P80_error", signed_pct),
    ]
    return records_table("data: method", rows, columns)


def border_core_decoding() -> str:
    """Seed threshold and smallest seed of the border-core decoding: the mean AP@0.5 on the
    training images that chooses the pair, and the held-out synthetic targets it must keep."""
    data = results("border_core_decoding")
    targets: dict[str, tuple[float, float]] = bench_constant(
        "border_core_decoding.py", "SYNTHETIC_TARGETS"
    )
    chosen = data["chosen"]
    gravel, conveyor = data["training gravel"], data["training conveyor crops"]
    synthetic = data["held-out synthetic"]
    body = []
    means = []
    kept_flags = []
    for key in synthetic:
        threshold, seed = key.split()
        row = synthetic[key]
        kept = all(low <= round(row[s], 3) <= high for s, (low, high) in targets.items())
        mean = (gravel[key]["ap50"] + conveyor[key]["ap50"]) / 2
        means.append(mean)
        kept_flags.append(kept)
        is_chosen = [float(threshold), int(seed)] == chosen
        label = f"{threshold}, {seed} px" + (" (chosen)" if is_chosen else "")
        body.append(
            [
                bold(label) if is_chosen else label,
                score(gravel[key]["ap50"]),
                score(conveyor[key]["ap50"]),
                score(row["eta"]),
                score(row["merger_ratio"]),
                score(row["splitter_ratio"]),
                "yes" if kept else "no",
            ]
        )
    for row, cell in zip(body, best_marked(means, score, "max", kept_flags), strict=True):
        row.insert(3, cell)
    header = [
        "core threshold, smallest seed",
        "AP@0.5 training gravel",
        "AP@0.5 training conveyor crops",
        "mean of the two",
        "η synthetic",
        "merger synthetic",
        "splitter synthetic",
        "keeps the synthetic targets",
    ]
    names = {"eta": "η", "merger_ratio": "merger", "splitter_ratio": "splitter"}
    rule = ", ".join(
        f"{low:g} ≤ {names.get(s, s)} ≤ {high:g}" for s, (low, high) in targets.items()
    )
    return (
        markdown_table(header, body)
        + f"\n\nSynthetic targets (held-out scenes, rounded to three decimals): {rule}. "
        "Bold: the best mean among the pairs that keep them."
    )


def particle_sides(split: str = "test", data: str = "gravel") -> str:
    """Particle models on one side of the split rule of one real set or the synthetic
    scenes (bench/particle_representations.py: particle_representations_<split>.json)."""
    table = results(f"particle_representations_{split}")
    if data not in table:
        raise PlaceholderError(f"particle_representations_{split}.json has no data {data!r}")
    rows = [(particle_label(key), record) for key, record in table[data].items()]
    columns = [
        Column("AP@0.5", "ap50", score, "max"),
        Column("AP@0.75", "ap75", score, "max"),
        Column("η (recall)", "eta", score, "max"),
        Column("merger", "merger_ratio", score, "min"),
        Column("splitter", "splitter_ratio", score, "min"),
        Column("P50 error", "count_P50_error", signed_pct, "absmin"),
        Column("P80 error", "count_P80_error", signed_pct, "absmin"),
        SPEED_COLUMN,
    ]
    return records_table("model", rows, columns)


def particle_learning_curve(curve: str = "particles:particles_distance") -> str:
    """Test AP against the number of real training photos (particle_learning_curve.json)."""
    table = results("particle_learning_curve")
    if curve not in table:
        raise PlaceholderError(f"particle_learning_curve.json has no curve {curve!r}")
    points = sorted(table[curve].values(), key=lambda point: point["real_photos"])
    sets = [data for data in ("gravel", "grains", "conveyor", "synthetic") if data in points[0]]
    header = ["real training photos"] + [f"{data} AP@0.5" for data in sets]
    header += [f"{data} η" for data in sets if data == "conveyor"]
    rows = []
    for point in points:
        row = [str(point["real_photos"])] + [score(point[data]["ap50"]) for data in sets]
        row += [score(point[data]["eta"]) for data in sets if data == "conveyor"]
        rows.append(row)
    return markdown_table(header, rows)


def particle_size_estimate(split: str = "validation") -> str:
    """Size estimators against the reference median ECD (particle_size_estimate_<split>.json):
    the median |log2 error| per real set (1 = off by a factor 2)."""
    table = results(f"particle_size_estimate_{split}")["sets"]
    estimators = list(next(iter(table.values())))
    header = ["estimator"] + [f"{data}: median \\|log2 error\\|" for data in table]
    rows = [
        [estimator] + [fixed(2)(table[data][estimator]["median_abs_log2_error"]) for data in table]
        for estimator in estimators
    ]
    return markdown_table(header, rows)
