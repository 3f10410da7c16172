"""A healthcheck from the image config is honoured (and `disable: true` turns it off)."""

import pytest

from stackup.testing.stack import busybox_tar

pytestmark = pytest.mark.root


def test_image_healthcheck(stack, busybox_cache):
    stack("image", "import", str(busybox_tar(busybox_cache)), "stackup.local/busybox-healthy:latest",
          "--change", 'CMD ["sh"]',
          "--change", "HEALTHCHECK --interval=300ms --start-period=5s --start-interval=200ms CMD test -f /tmp/up")
    up = stack("up", "-d")
    events = up.stderr.splitlines()
    assert events.index(" Container e2e-imagehc-checked-1  Healthy") < \
        events.index(" Container e2e-imagehc-after-1  Creating"), up.stderr
    rows = {row["Service"]: row for row in stack.ps()}
    assert rows["checked"]["Health"] == "healthy"
    assert rows["nocheck"]["Health"] == "" and rows["nocheck"]["Status"].startswith("Up ") and "(" not in rows["nocheck"]["Status"]
    stack("down", "-v")
    assert stack.wait_gone() == []
