"""A local web page to label an image: paint scribbles, accept the superpixel labels they
suggest, see a model's labels and doubt, save into a dataset (``orescope annotate view``)."""

from orescope.viewer.overlays import read_overlays
from orescope.viewer.server import ViewerServer
from orescope.viewer.session import AnnotationSession, open_session

__all__ = ["AnnotationSession", "ViewerServer", "open_session", "read_overlays"]
