"""Compiles the hot pure-Python modules with mypyc (everything else is in ``pyproject.toml``).

Each module in :data:`COMPILED` is plain, typed Python that runs unchanged when not compiled;
compiled it is several times faster (``schemas/avro_binary.py``: an ``ExternalAlert`` encoded in
~3.5 µs instead of fastavro's 11-15). ``ALERTSTREAM_PURE=1``, or no C compiler, builds without.
An editable install (``make venv``) puts the compiled module beside its source, where it shadows
the ``.py``: the Makefile rebuilds it when the source changes, and a unit test fails on a stale one.
"""

import os
import shutil
import sysconfig

from setuptools import Extension, setup

COMPILED = ["alertstream/schemas/avro_binary.py", "alertstream/schemas/label_fingerprint.py"]


def _ext_modules() -> list[Extension]:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if os.environ.get("ALERTSTREAM_PURE") or shutil.which(compiler) is None:
        return []
    from mypyc.build import mypycify

    # separate: each module with its own runtime library inside the package (one group would put a
    # shared library at the top level of the wheel, beside alertstream/)
    return mypycify(COMPILED, opt_level="3", separate=True)


setup(ext_modules=_ext_modules())
