"""The viewer's local HTTP server: one page and a small API over an
:class:`~orescope.viewer.session.AnnotationSession`.

The standard library's threaded server is enough for one annotator on 127.0.0.1. The API:

- ``GET /api/info``: the image's name and size, the classes (index, name, colour), the
  overlays, and whether the superpixels are ``ready`` (until then, requests for the layers
  wait for them: the page opens with the photo while they are computed);
- ``GET /api/image.png``, ``GET /api/overlay/<name>.png``: the photo and its overlays;
- ``GET /api/layers``: the layers, uint8 3×H×W raw bytes (scribbles, suggested, accepted;
  gzip-encoded where the client accepts it: a class map compresses a hundredfold);
- ``POST /api/paint`` ``{"points": [[x, y], ...], "class": k, "radius": r}``,
  ``POST /api/erase`` ``{"points": ..., "radius": r}``,
  ``POST /api/accept`` ``{}`` (all suggestions), ``{"x": x, "y": y}`` (the region there: the
  suggestion's, else the predicted map's) or ``{"source": "labels"}`` (the whole predicted map),
  ``POST /api/fill`` ``{"fill": true}`` (suggest untouched superpixels too, or not):
  change the layers and answer with them as ``/api/layers`` does;
- ``POST /api/save``: writes the dataset files and answers their paths as JSON.

Errors answer 400 (or 404) with ``{"error": reason}``.
"""

from __future__ import annotations

import gzip
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

import cv2
import numpy as np

from orescope.io.images import to_uint8_rgb
from orescope.viewer.session import AnnotationSession

STATIC = {  # path -> (file in orescope/viewer/static, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
}


def encode_png(picture: np.ndarray) -> bytes:
    """PNG bytes of an RGB(A) uint8 picture."""
    code = cv2.COLOR_RGBA2BGRA if picture.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, code))
    if not ok:
        raise ValueError("cannot encode PNG")
    return encoded.tobytes()


class ViewerServer(ThreadingHTTPServer):
    """Serves ``session`` and its ``overlays`` (name -> RGBA) on 127.0.0.1:``port`` (0: a
    free port); the pictures are encoded once, and a lock keeps requests that change the
    session in turn."""

    daemon_threads = True

    def __init__(
        self, session: AnnotationSession, overlays: dict[str, np.ndarray], port: int = 0
    ) -> None:
        super().__init__(("127.0.0.1", port), ViewerRequestHandler)
        self.session = session
        self.lock = threading.Lock()
        self.pngs = {"/api/image.png": encode_png(to_uint8_rgb(session.image))}
        self.pngs |= {f"/api/overlay/{name}.png": encode_png(o) for name, o in overlays.items()}
        self.info = {
            "name": session.image_path.name,
            "height": session.shape[0],
            "width": session.shape[1],
            "classes": [
                {
                    "index": c.index,
                    "name": c.name,
                    "abbreviation": c.abbreviation,
                    "colour": list(c.colour),
                }
                for c in session.registry.classes
            ],
            "overlays": list(overlays),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"


class ViewerRequestHandler(BaseHTTPRequestHandler):
    server: ViewerServer

    def do_GET(self) -> None:
        if self.path in STATIC:
            name, content_type = STATIC[self.path]
            self._answer((files("orescope.viewer") / "static" / name).read_bytes(), content_type)
        elif self.path in self.server.pngs:
            self._answer(self.server.pngs[self.path], "image/png")
        elif self.path == "/api/info":
            self._answer_json(self.server.info | {"ready": self.server.session.ready})
        elif self.path == "/api/layers":
            with self.server.lock:
                self._answer_layers()
        else:
            self._answer_json({"error": f"no {self.path}"}, HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            with self.server.lock:
                if self.path == "/api/save":
                    export = self.server.session.save()
                    saved = {"image": str(export.image), "mask": str(export.mask)}
                    self._answer_json(saved | {"labelled": export.labelled})
                elif self.path in CHANGES:
                    CHANGES[self.path](self.server.session, request)
                    self._answer_layers()
                else:
                    self._answer_json({"error": f"no {self.path}"}, HTTPStatus.NOT_FOUND)
        except KeyError as error:
            self._answer_json({"error": f"{error} is missing"}, HTTPStatus.BAD_REQUEST)
        except (ValueError, TypeError) as error:  # InputError is a ValueError
            self._answer_json({"error": str(error)}, HTTPStatus.BAD_REQUEST)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command line shows the address, not every request."""

    def _answer_layers(self) -> None:
        body = self.server.session.layers().tobytes()
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            self._answer(gzip.compress(body, compresslevel=1), "application/octet-stream", "gzip")
        else:
            self._answer(body, "application/octet-stream")

    def _answer_json(self, document: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._answer(json.dumps(document).encode(), "application/json", status=status)

    def _answer(
        self,
        body: bytes,
        content_type: str,
        encoding: str | None = None,
        status: HTTPStatus = HTTPStatus.OK,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        if encoding is not None:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)


def _paint(session: AnnotationSession, request: dict) -> None:
    session.paint(_points(request), int(request["class"]), _radius(request))


def _erase(session: AnnotationSession, request: dict) -> None:
    session.erase(_points(request), _radius(request))


def _accept(session: AnnotationSession, request: dict) -> None:
    """All suggestions, with ``x`` and ``y`` the region there, or with ``source: labels`` the
    predicted map."""
    source = request.get("source", "suggestions")
    if source not in ("suggestions", "labels"):
        raise ValueError(f"source must be suggestions or labels, not {source}")
    if source == "labels":
        session.accept_predicted()
        return
    if "x" not in request:
        session.accept_all()
        return
    row, column = int(request["y"]), int(request["x"])
    if not (0 <= row < session.shape[0] and 0 <= column < session.shape[1]):
        raise ValueError(f"({column}, {row}) lies outside the image")
    session.accept_region(row, column)


def _fill(session: AnnotationSession, request: dict) -> None:
    session.fill = bool(request["fill"])


CHANGES = {"/api/paint": _paint, "/api/erase": _erase, "/api/accept": _accept, "/api/fill": _fill}


def _points(request: dict) -> np.ndarray:
    points = np.asarray(request["points"], dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError("points must be a non-empty list of [x, y]")
    return points


def _radius(request: dict) -> int:
    radius = int(request["radius"])
    if not 0 <= radius <= 500:
        raise ValueError(f"radius must be 0 to 500 pixels, got {radius}")
    return radius
