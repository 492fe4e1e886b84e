"""Data preparation: one command-line script per step, sharing helpers in :mod:`data_prep.common`.

Scripts (each has ``--help``; run them as ``python data_prep/<name>.py`` or
``python -m data_prep.<name>``):

- ``resize_videos.py``: re-encode a video tree to H.264 mp4 at a given short side.
- ``build_kinetics_csv.py``: Kinetics-style ``path label`` csvs from class folders or from the
  official annotation csvs.
- ``build_ssv2.py``: validate and normalise Something-Something-v2 files, optionally extract frames.
- ``scan_dataset.py``: find unreadable, empty or truncated videos listed in a csv.
- ``make_synthetic.py``: the embedded default data set (procedural motion classes), also callable
  as :func:`data_prep.make_synthetic.make_synthetic`.
"""
