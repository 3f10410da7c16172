"""pyroute2's IPRoute without the package's `__init__`.

`import pyroute2` imports every protocol the library speaks (NDB, IPDB, conntrack,
wireguard, nl80211, ipvs, plan9...): about 230 ms, against about 100 ms for the two
modules stackup uses. Python runs a package's `__init__` before any of its
submodules, so the package is entered as a bare module (its path, no code run) while
those two are imported, then taken out again: a later `import pyroute2` anywhere runs
the real `__init__`, which finds these submodules already loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys


def load_iproute() -> tuple[type, type]:
    """(pyroute2's IPRoute, its NetlinkError)."""
    if "pyroute2" in sys.modules:  # already imported whole: nothing to save
        return _classes()
    spec = importlib.util.find_spec("pyroute2")
    if spec is None:
        raise ImportError("pyroute2 is not installed", name="pyroute2")
    bare = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run
    sys.modules["pyroute2"] = bare
    try:
        return _classes()
    except ImportError:  # another layout of the package: take the long way
        del sys.modules["pyroute2"]
        pyroute2 = importlib.import_module("pyroute2")
        return pyroute2.IPRoute, pyroute2.NetlinkError
    finally:
        if sys.modules.get("pyroute2") is bare:
            del sys.modules["pyroute2"]


def _classes() -> tuple[type, type]:
    linux = importlib.import_module("pyroute2.iproute.linux")
    exceptions = importlib.import_module("pyroute2.netlink.exceptions")
    return linux.IPRoute, exceptions.NetlinkError
