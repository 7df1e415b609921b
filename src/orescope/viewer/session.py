"""What an annotator has painted and accepted on one image, kept while the viewer runs.

Three layers of uint8 class indices, :data:`~orescope.preprocess.superpixels.UNLABELLED`
where empty, each the image's size: the ``scribbles`` painted, the labels they ``suggest``
(:class:`~orescope.preprocess.superpixels.ScribbleLabeller`: every superpixel a stroke touches)
and the suggestions the annotator ``accepted``. Only accepted labels are saved as the mask, so
a suggestion that spills over a grain boundary is never trained on unseen. A model's
``predicted`` map, when given, is a fourth source of labels to accept: correcting a model's
map where it is wrong is faster than labelling a photo from nothing (paper 003 §5).
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
from scipy import ndimage

from orescope.io import ClassRegistry, read_image
from orescope.jobs.annotate_run import (
    LabelExport,
    check_dataset_registry,
    labelling_registry,
    write_labelled,
)
from orescope.preprocess.superpixels import (
    UNLABELLED,
    ScribbleLabeller,
    SuperpixelLevel,
    superpixel_hierarchy,
)
from orescope.viewer.overlays import read_label_map

T = TypeVar("T")
LAYERS = ("scribbles", "suggested", "accepted")  # the order of :meth:`AnnotationSession.layers`


def brush_mask(shape: tuple[int, int], points: np.ndarray, radius_px: int) -> np.ndarray:
    """Boolean mask of a brush of ``radius_px`` dragged along ``points`` ((x, y) pixels, as
    a pointer gives them): round-ended lines ``2 · radius_px + 1`` pixels wide.

    Examples
    --------
    >>> brush_mask((3, 6), np.array([[1, 1], [4, 1]]), 0).astype(int).tolist()
    [[0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]]
    """
    canvas = np.zeros(shape, np.uint8)
    path = np.round(points).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [np.concatenate([path, path[-1:]])], False, 1, 2 * radius_px + 1)
    return canvas.astype(bool)


def in_subprocess(function: Callable[..., T], *args: Any) -> Future[T]:
    """``function(*args)``, computed in a process of its own. Superpixels hold Python's global
    interpreter lock for tens of seconds, so in a thread they would stall the server's threads
    (the page would not open before them); the process is a daemon, ended with the viewer.
    On Linux it is forked (at once, while a spawned one spends seconds importing), before the
    server's threads start; elsewhere spawned, as macOS's system libraries are not fork-safe."""
    forks = sys.platform.startswith("linux")
    context = multiprocessing.get_context("fork") if forks else multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_send_result, args=(sender, function, args), daemon=True)
    worker.start()
    sender.close()
    future: Future[T] = Future()

    def receive() -> None:
        try:
            succeeded, value = receiver.recv()
        except EOFError:
            future.set_exception(RuntimeError("the superpixel process ended without a result"))
            return
        if succeeded:
            future.set_result(value)
        else:
            future.set_exception(value)
        worker.join()

    threading.Thread(target=receive, daemon=True).start()
    return future


def _send_result(sender: Connection, function: Callable[..., Any], args: tuple) -> None:
    try:
        sender.send((True, function(*args)))
    except Exception as error:  # handed to whoever waits for the result
        sender.send((False, error))


@dataclass
class AnnotationSession:
    """The layers of one image (``image_path``, read as ``image``) labelled with the classes
    of ``registry`` over a superpixel hierarchy of it (``superpixels``, a future: a photo's
    take tens of seconds, and the page opens meanwhile), to be saved into the dataset folder
    ``out``; with ``fill``, superpixels no stroke touched are suggested too (the class of the
    labelled region nearest in colour, as ``annotate labels --fill``). ``predicted``: a
    model's class map of the image (uint8, 255 where it has none), or None."""

    image_path: Path
    image: np.ndarray
    registry: ClassRegistry
    superpixels: Future[list[np.ndarray]]
    out: Path
    fill: bool = False
    predicted: np.ndarray | None = None
    accepted: np.ndarray = field(init=False)
    _labeller: ScribbleLabeller | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.accepted = np.full(self.shape, UNLABELLED, np.uint8)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    @property
    def ready(self) -> bool:
        """Whether the superpixels are computed (strokes wait for them until then)."""
        return self.superpixels.done()

    @property
    def labeller(self) -> ScribbleLabeller:
        """The strokes and the labels they give; the first use waits for the superpixels."""
        if self._labeller is None:
            self._labeller = ScribbleLabeller(self.image, self.superpixels.result())
        return self._labeller

    def layers(self) -> np.ndarray:
        """uint8 3×H×W: scribbles, suggested and accepted labels (:data:`LAYERS`)."""
        return np.stack([self.labeller.strokes, self.suggested(), self.accepted])

    def suggested(self) -> np.ndarray:
        """The labels the strokes give, filled or not (a new array)."""
        return self.labeller.labels(self.fill)

    def paint(self, points: np.ndarray, class_index: int, radius_px: int) -> None:
        """Add a stroke of ``class_index`` along ``points`` ((x, y) pixels)."""
        if class_index not in self.registry.indices:
            raise ValueError(f"class {class_index} is not in the registry")
        strokes = np.full(self.shape, UNLABELLED, np.uint8)
        strokes[brush_mask(self.shape, points, radius_px)] = class_index
        self.labeller.add(strokes)

    def erase(self, points: np.ndarray, radius_px: int) -> None:
        """Remove the scribbles and accepted labels under a brush along ``points``. A
        labeller only adds strokes, so a new one takes the strokes that are left."""
        brush = brush_mask(self.shape, points, radius_px)
        self.accepted[brush] = UNLABELLED
        strokes = self.labeller.strokes.copy()
        strokes[brush] = UNLABELLED
        self._labeller = ScribbleLabeller(self.image, self.superpixels.result())
        self._labeller.add(strokes)

    def accept_all(self) -> None:
        """Take every suggestion, replacing accepted labels under it."""
        suggested = self.suggested()
        taken = suggested != UNLABELLED
        self.accepted[taken] = suggested[taken]

    def accept_region(self, row: int, column: int) -> None:
        """Take the suggestion under a pixel: the connected area of its class around it; where
        the strokes suggest nothing, the predicted map's area there (strokes overrule the
        model)."""
        suggested = self.suggested()
        if suggested[row, column] == UNLABELLED and self.predicted is not None:
            suggested = self.predicted
        class_index = suggested[row, column]
        if class_index == UNLABELLED:
            return
        regions, _ = ndimage.label(suggested == class_index)
        self.accepted[regions == regions[row, column]] = class_index

    def accept_predicted(self) -> None:
        """Take the whole predicted map, replacing accepted labels where it has a class: the
        start of a correction, whose strokes' suggestions are then accepted over it."""
        if self.predicted is None:
            raise ValueError("no predicted labels: open the viewer with --labels")
        taken = self.predicted != UNLABELLED
        self.accepted[taken] = self.predicted[taken]

    def save(self) -> LabelExport:
        """Write into ``out`` the dataset layout ``orescope annotate labels`` writes:
        ``images/<stem>.jpg``, ``masks/<stem>.png`` (the accepted labels) and
        ``classes.yaml``, and ``scribbles/<stem>.png`` (the strokes, which ``annotate labels``
        turns into labels again); each atomically."""
        check_dataset_registry(self.out, self.registry)
        return write_labelled(
            self.out,
            self.image_path,
            self.image,
            self.accepted,
            self.registry,
            self.labeller.strokes,
        )


def open_session(
    image_path: Path,
    classes_path: Path,
    out: Path,
    levels: Sequence[SuperpixelLevel],
    labels_path: Path | None = None,
) -> AnnotationSession:
    """An empty session of the image at ``image_path``, its superpixels computed once in the
    background, with the predicted map at ``labels_path`` (``classes.png`` of ``predict
    minerals`` or a mask, in the registry's indices) if given.

    Raises
    ------
    InputError
        For an unreadable image or registry, a registry that uses 255, a dataset folder
        ``out`` whose ``classes.yaml`` lists other classes, or a predicted map of another
        size than the image or with classes the registry does not list.
    """
    registry = labelling_registry(classes_path)
    check_dataset_registry(out, registry)
    image = read_image(image_path)
    predicted = None
    if labels_path is not None:
        predicted = read_label_map(labels_path, registry, image.shape[:2])
    superpixels = in_subprocess(superpixel_hierarchy, image, list(levels))
    return AnnotationSession(image_path, image, registry, superpixels, out, predicted=predicted)
