"""Building blocks of ``deal data synth``: region shapes (``shapes``), local edits (``edits``), the
global processing history (``history``), image I/O (``io``), the bundled sample photos (``photos``),
the settings (``config``), the dataset writer (``dataset``) and a process pool (``pool``).

Import the submodules directly; this package imports nothing, so ``deal --help`` stays fast.
"""
