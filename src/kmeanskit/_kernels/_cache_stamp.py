"""Stamp every cached kernel with the sources of all the kernels.

Numba's on-disk cache checks only the file that defines a function: a kernel
that calls one from another file keeps its cached machine code when only
the other file changed (an upgrade, a checkout), with the callee's old code
inlined.  Where the callee's arithmetic changed (how many rows a chunk
holds, say) the stale caller writes outside its arrays.  So each kernel's
stamp here also carries one digest of every module of this package: any
change to any kernel recompiles them all.

Numba offers no public hook for this; the locators are registered on its
cache's class list (where it has one under a known name), first, and
decline every function outside this package.  Without the hook the cache
works as numba's own.
"""

import hashlib
import os

from numba.core import caching

KERNELS_DIR = os.path.dirname(os.path.realpath(__file__))


def sources_digest(folder: str = KERNELS_DIR) -> bytes:
    """SHA-256 over the names and contents of the ``.py`` files in ``folder``."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            with open(os.path.join(folder, name), "rb") as source:
                digest.update(name.encode() + b"\0" + source.read() + b"\0")
    return digest.digest()


SOURCES_DIGEST = sources_digest()


def _stamped(locator_class):
    """``locator_class`` for this package's functions only, its source stamp
    joined with :data:`SOURCES_DIGEST`."""

    class PackageStamped(locator_class):
        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.realpath(py_file)) != KERNELS_DIR:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return super().get_source_stamp(), SOURCES_DIGEST

    name = f"PackageStamped{locator_class.__name__}"
    PackageStamped.__name__ = PackageStamped.__qualname__ = name
    return PackageStamped


def register() -> bool:
    """Put the stamped locators ahead of numba's own (once); False where
    this numba keeps its locators elsewhere."""
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    locators = getattr(impl, "_locator_classes", None)
    if not isinstance(locators, list):
        return False
    if not any(cls.__name__.startswith("PackageStamped") for cls in locators):
        file_backed = [cls for cls in locators
                       if issubclass(cls, getattr(caching, "_SourceFileBackedLocatorMixin", ()))]
        locators[:0] = [_stamped(cls) for cls in file_backed]
    return True
