"""Speed and memory tables: `predict particles` against the bare model, where a worker's time
goes, `predict minerals` on a panorama, and the zoo models in both memory layouts."""

from __future__ import annotations

from .formatting import (
    Column,
    code,
    fixed,
    integer,
    markdown_table,
    pct,
    records_table,
    scientific,
    times,
)
from .results import results
from .sections import settings_label


def particle_throughput() -> str:
    """`predict particles` end to end against the bare forward pass
    (particle_throughput.json)."""
    run = results("particle_throughput")["throughput"]

    def rate(mp_per_s: float) -> str:
        return f"{fixed(2)(mp_per_s)} MP/s ({fixed(2)(1 / mp_per_s)} s per megapixel)"

    workers = integer(run["workers"])
    body = [
        [
            f"`predict particles` end to end, {workers} workers (the default when measured), "
            f"{fixed(1)(run['megapixels'])} MP of synthetic scenes",
            rate(run["end_to_end_mp_per_s"]),
        ],
        ["the same with `--workers 1`", rate(run["one_worker_mp_per_s"])],
        [
            f"bare model forward pass over the same {integer(run['tiles'])} tiles",
            rate(run["forward_mp_per_s"]),
        ],
        [
            "end to end ÷ forward pass",
            f"{fixed(2)(run['ratio'])} with {workers} workers, "
            f"{fixed(2)(run['ratio_one_worker'])} with one",
        ],
        ["the model's share of the one-worker run", pct(run["model_share_of_one_worker_run"])],
        [
            "a longer run (the scenes twice over), its second pass",
            f"{rate(run['steady_mp_per_s'])}, {fixed(2)(run['ratio_steady'])} of the forward pass",
        ],
        [
            "fixed cost of a run (workers' start, PSD plot and report, the last image's wait)",
            f"{fixed(2)(run['fixed_seconds'])} s",
        ],
    ]
    return markdown_table(["measurement", "result"], body)


def particle_memory() -> str:
    """Peak memory of `predict particles` on large mosaics (particle_throughput.json)."""
    body = [
        [
            f"{name}, {integer(m['width'])} × {integer(m['height'])}",
            f"{fixed(2)(m['resampled_by'])}×",
            fixed(0)(m["width"] * m["height"] * m["resampled_by"] ** 2 / 1e6),
            fixed(0)(m["seconds"]),
            fixed(2)(m["peak_gb"]),
        ]
        for name, m in results("particle_throughput")["memory"].items()
    ]
    header = ["mosaic", "resampled by", "MP the model sees", "seconds", "peak memory (GB)"]
    return markdown_table(header, body)


def batch_scaling() -> str:
    """`predict particles` on a batch in this process and on local clusters of one and two
    one-core workers (batch_scaling.json)."""
    data = results("batch_scaling")
    body = [
        [
            name,
            f"{fixed(1)(run['seconds'])} s",
            fixed(2)(run["images_per_s"]),
            f"{fixed(2)(run['speedup_over_1_worker'])}×",
            f"{fixed(2)(run['speedup_over_this_process'])}×",
            "yes" if run["identical_to_first"] else "**no**",
            " / ".join(f"{fixed(2)(gb)} GB" for gb in run.get("worker_peak_gb", [])) or "",
        ]
        for name, run in data["runs"].items()
    ]
    header = [
        "run",
        "batch",
        "images per second",
        "over one worker",
        "over this process",
        "files as the first run's",
        "peak memory of each worker",
    ]
    return markdown_table(header, body)


def resume_kills() -> str:
    """Each SIGKILL of bench/resume.py: when, what was finished, what the resumed run did
    again, and whether its files match the uninterrupted run's (resume.json)."""
    data = results("resume")
    body = [
        [
            f"{fixed(1)(kill['at_s'])} s",
            f"{integer(kill['finished_at_kill'])} of {integer(data['images'])}",
            integer(kill["redone"]),
            "yes" if kill["identical"] else "**no**",
        ]
        for kill in sorted(data["kills"], key=lambda kill: kill["at_s"])
    ]
    header = ["killed after", "images finished", "done again by --resume", "files identical"]
    return markdown_table(header, body)


def particle_stages() -> str:
    """Where one worker's time goes on one scene, one thread (particle_throughput.json)."""
    stages = results("particle_throughput")["stages"]
    body = [[name, fixed(2)(s["seconds"]), pct(s["share"])] for name, s in stages.items()]
    return markdown_table(["stage", "seconds", "share"], body)


SECTION_THROUGHPUT = (
    "section_throughput",
    "section_throughput_unrefined",
    "section_throughput_scales",
)


def section_throughput() -> str:
    """`predict minerals` on a panorama: time and peak memory with the default settings, the
    model's own borders and --scales (section_throughput*.json)."""
    rows = []
    for name in SECTION_THROUGHPUT:
        record = results(name)
        label = f"{code(record['model'])}: {settings_label(record)}"
        rows.append((label, record))
    columns = [
        Column("panorama (MP)", lambda r: r["width"] * r["height"] / 1e6, fixed(0)),
        Column("seconds", "seconds", fixed(0)),
        Column("s per megapixel", "seconds_per_megapixel", fixed(2)),
        Column("peak memory (GB)", "peak_gb", fixed(2)),
        Column("grains measured", "grains", integer),
    ]
    return records_table("run", rows, columns)


def model_layout() -> str:
    """Forward time of each zoo model in PyTorch's default and channels-last layouts, and
    training speed in both (model_layout.json)."""
    data = results("model_layout")
    rows = [(code(name), record) for name, record in data.items()]
    columns = [
        Column("forward, default layout (ms)", "nchw_ms", fixed(0)),
        Column("forward, channels-last (ms)", "channels_last_ms", fixed(0)),
        Column("speed-up", "speed_up", times(2)),
        Column("largest output difference", "max_abs_difference", scientific(1)),
        Column("training, default layout (patches/s)", "train_nchw_patches_per_s", fixed(1)),
        Column("training, channels-last (patches/s)", "train_last_patches_per_s", fixed(1)),
    ]
    return records_table("model", rows, columns)


def fuzz_readers() -> str:
    """Each reader of user files under bench/fuzz_readers.py: examples tried in its time,
    failures, and the slowest example (fuzz_readers.json)."""
    data = results("fuzz_readers")
    body = [
        [
            code(reader),
            f"{fixed(0)(run['seconds'] / 60)} min",
            integer(run["examples"]),
            integer(run["failures"]),
            f"{fixed(2)(run['slowest_s'])} s",
        ]
        for reader, run in data.items()
    ]
    header = ["reader", "fuzzed for", "examples", "failures", "slowest example"]
    return markdown_table(header, body)
