"""`secrets` and `configs`: files at /run/secrets/<name> and at the config's target,
read-only, with the owner and mode asked for (root and 0444 by default); a secret's
content is in no state file, log or `inspect` output, and goes with the container."""

import pytest

pytestmark = pytest.mark.root

TOKEN = "tok-9f2c1e"


@pytest.fixture
def stackup_prepare_root(stackup_busybox):
    return stackup_busybox


def test_secret_and_config_files(stackup_stack, stackup_root):
    stack = stackup_stack("compose.yaml", env={"API_TOKEN": TOKEN})
    listing = stack.exec("app", "stat -c '%n %u %g %a' /run/secrets/db_password /run/secrets/token "
                         "/greeting /etc/app/settings.conf").stdout.splitlines()
    assert listing == ["/run/secrets/db_password 0 0 444", "/run/secrets/token 1000 100 400",
                       "/greeting 0 0 444", "/etc/app/settings.conf 0 33 640"]
    # the user `app` (uid 1000) reads its token; the mode keeps it from the settings (group 33)
    assert stack.exec("app", "cat /run/secrets/db_password /run/secrets/token /greeting").stdout == \
        f"s3cret-from-file\n{TOKEN}hello from a config"
    assert stack.exec("app", "cat /etc/app/settings.conf", check=False).returncode != 0
    # read-only, even for root
    wrote = stack("exec", "-T", "--user", "root", "app", "sh", "-c", "echo x > /run/secrets/token", check=False)
    assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr

    inspected = stack("container", "inspect", stack.ps()[0]["ID"]).stdout + stack("config").stdout
    state_files = "".join(p.read_text() for p in stackup_root.glob("containers/*/state.json"))
    for secret in ("s3cret-from-file", TOKEN):
        assert secret not in inspected and secret not in state_files and secret not in stack.logs()
    (folder,) = stackup_root.glob("containers/*/files")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"

    stack("down")
    assert not list(stackup_root.glob("containers/*/files"))
