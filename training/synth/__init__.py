"""Synthetic garment photos with DeepFashion-style landmarks, for sim-to-real training.

`generate_dataset(out_dir, count, seed, workers=...)` writes `count` 256x256 JPEGs and a
`list_landmarks_inshop.txt` in the DeepFashion In-shop layout (see `writer`). About nine in
ten rows are usable upper-body rows (clothes_type 1, variation_type 1, all six landmarks
visible); the rest are rows a loader must filter out: lower-body (4 landmarks) and full-body
(8 landmarks) garments, harder poses and zoom-ins (variation_type 2-5), and rows with an
occluded (visibility 1) or truncated (visibility 2, coordinates clamped) landmark.

What varies (see the modules):

- `garments`: T-shirts, long sleeves, tanks, open jackets, sweaters, collared shirts; widths,
  lengths, shoulder slope, sleeve angle and length, necklines, hems; trousers, skirts, dresses.
- `figures`: flat lay, on a hanger, worn by a rough figure facing the camera or turned 3/4
  (arms hanging, close to the body, bent with the forearm in front of the torso, hands on the
  hips or in pockets; long sleeves bend with the elbow), held up by two hands gripping the
  shoulder line (the holder behind it, or arms reaching in from above or the sides) with the
  garment sagging under its weight.
- `appearance`, `details`: colours across the range (white/black/grey included), stripes,
  checks, plaid, dots, prints, denim, knit, camouflage, colour blocks; seams, buttons,
  pockets, chest prints, folds and wrinkles, shading.
- `backgrounds`: studio sweeps, gradients, wood, tiles, noise surfaces, rooms and labs with
  clutter.
- `warp`, `camera`: scale (35-95 % of the frame), position, rotation, 3/4 turn, keystone,
  crops; white balance, exposure, vignetting, blur, sharpening, noise, JPEG quality 40-95.

Landmark convention (DeepFashion): in front views the odd ids ("left") lie on the image's
left. Only front-facing views are generated (file suffixes `front`, `side` for the 3/4 turn,
`full`, `flat`); back views, whose left/right are reversed in DeepFashion, are not generated.
"""

from training.synth.dataset import SynthSummary, generate_dataset

__all__ = ["SynthSummary", "generate_dataset"]
