"""Bridges to the frameworks users' models live in.

* :mod:`rso_ref.interop.torch`: a ``torch.nn.Module`` seen through the library's model
  protocol (:func:`~rso_ref.interop.torch.as_model`) and RSO as a ``torch.optim``
  optimizer (:class:`~rso_ref.interop.torch.RSO`). Needs the ``torch`` extra.

Importing :mod:`rso_ref` or this package imports no framework; each submodule imports
its own.
"""
