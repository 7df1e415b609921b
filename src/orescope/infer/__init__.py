"""Model inference on images of any size: tiles, Gaussian blending and bounded memory."""

from orescope.infer.multiscale import predict_classes_multiscale, predict_probabilities_multiscale
from orescope.infer.sliding_window import predict_classes, predict_probabilities
from orescope.infer.tiling import gaussian_weights, tile_starts

__all__ = [
    "gaussian_weights",
    "predict_classes",
    "predict_classes_multiscale",
    "predict_probabilities",
    "predict_probabilities_multiscale",
    "tile_starts",
]
