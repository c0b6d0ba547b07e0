"""socscreen.corpus: what is in the training data and how it is stored.

* :mod:`~socscreen.corpus.storage`: the compact, checked storage of a corpus file;
* :mod:`~socscreen.corpus.zeroth_step`: the zeroth-step H(0) kept beside every corpus file
  (``DIR/zeroth_step/NAME.npz``), what a correction model is trained on;
* :mod:`~socscreen.corpus.loading`: reading a corpus folder with its H(0) and the seeded
  train/validation/test split.

Structure generation and generation campaigns still live in ``socscreen.workflows``
(``training_structures``, ``training_data``).
"""
