"""Loading IPRoute without pyroute2's __init__ leaves `import pyroute2` whole afterwards."""

import subprocess
import sys


def test_light_load_then_full_import_agree():
    script = (
        "import sys\n"
        "from stackup.engine.network.pyroute2_light import load_iproute\n"
        "IPRoute, NetlinkError = load_iproute()\n"
        "print('pyroute2' in sys.modules, 'pyroute2.ndb.main' in sys.modules)\n"
        "import pyroute2\n"
        "print(pyroute2.IPRoute is IPRoute, pyroute2.NetlinkError is NetlinkError, hasattr(pyroute2, 'NDB'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True", "True", "True"]


def test_after_a_full_import_the_same_classes_are_returned():
    script = (
        "import pyroute2\n"
        "from stackup.engine.network.pyroute2_light import load_iproute\n"
        "print(load_iproute() == (pyroute2.IPRoute, pyroute2.NetlinkError))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
