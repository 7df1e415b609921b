"""Tables, overlays, plots and the self-contained HTML report."""

from orescope.report.html import Thumbnail, write_report
from orescope.report.overlay import class_overlay, instance_overlay, label_colours
from orescope.report.plots import plot_psd

__all__ = [
    "Thumbnail",
    "class_overlay",
    "instance_overlay",
    "label_colours",
    "plot_psd",
    "write_report",
]
