"""The six garment landmarks: ids, names, colours and the horizontal-flip permutation.

Landmark ids follow DeepFashion's upper-body order. In a front view the odd ("left") landmarks
lie on the image's left, so a horizontal flip must swap each left/right pair.
"""

from __future__ import annotations

NUM_LANDMARKS = 6
# Channel 0 of every label map and prediction is background; channel c is landmark c.
NUM_CLASSES = NUM_LANDMARKS + 1
IMAGE_SIZE = 256

LANDMARK_NAMES: tuple[str, ...] = (
    "left_collar",
    "right_collar",
    "left_sleeve",
    "right_sleeve",
    "left_hem",
    "right_hem",
)

# RGB colours per class, background first: the seed's white, red, green, blue, yellow, cyan,
# magenta. Written into metadata.json so the service draws the same colours.
CLASS_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255),
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
)

# Index i holds the landmark (0-based) that lands in slot i after a horizontal flip.
FLIP_PERMUTATION: tuple[int, ...] = (1, 0, 3, 2, 5, 4)
