"""Fuzz targets for every parser and validator that reads a disk's bytes or an EFI variable.

:mod:`tests.fuzz.targets` names them, :mod:`tests.fuzz.corpus` seeds them from the fixtures,
``python -m tests.fuzz`` (``make fuzz``) runs long coverage-guided campaigns with atheris and
``test_fuzz.py`` runs a short deterministic form in ``make test``; see README.md here.
"""
