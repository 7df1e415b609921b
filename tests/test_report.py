import base64

import cv2
import numpy as np

from orescope.report import Thumbnail, instance_overlay
from orescope.synth import SceneConfig, synthesize_scene


def test_overlay_drawn_in_bands_equals_the_whole_image_drawing():
    scene = synthesize_scene(SceneConfig(height=120, width=90, seed=2))
    whole = instance_overlay(scene.image, scene.labels, band_rows=1000)
    assert np.array_equal(instance_overlay(scene.image, scene.labels, band_rows=7), whole)


def test_overlay_colours_outlines_and_border_cut_particles():
    image = np.full((8, 10, 3), 100, np.uint8)
    labels = np.zeros((8, 10), np.uint32)
    labels[2:6, 2:6] = 1  # inside the frame: white outline
    labels[0:3, 7:10] = 2  # cut by the border: red outline
    overlay = instance_overlay(image, labels, band_rows=3)
    assert overlay[0, 0].tolist() == [100, 100, 100]
    assert overlay[2, 2].tolist() == [255, 255, 255]
    assert overlay[0, 7].tolist() == [255, 40, 40]
    assert overlay[3, 3].tolist() != [100, 100, 100]  # tinted interior


def test_thumbnails_are_kept_small_and_encoded_where_made():
    picture = np.zeros((3000, 1500, 3), np.uint8)
    picture[:1500, :, 0] = 200  # top half red
    thumb = Thumbnail("big", picture, "caption")
    prefix = "data:image/jpeg;base64,"
    assert thumb.uri.startswith(prefix)
    jpeg = np.frombuffer(base64.b64decode(thumb.uri[len(prefix) :]), np.uint8)
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR).astype(int)  # BGR
    assert decoded.shape == (560, 280, 3)
    # JPEG is lossy: flat areas come back within a few levels
    assert np.abs(decoded[:250] - [0, 0, 200]).max() <= 4
    assert np.abs(decoded[310:]).max() <= 4
