"""Bundled pretrained models (``*.pt`` plain-data checkpoints) and their ``manifest.json``; see
:mod:`molvae.bundled` and MODELS.md."""
