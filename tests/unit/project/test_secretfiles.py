"""A service's secrets and configs -> the files its container is given (where, owner,
mode, content), as compose places them."""

import re

import pytest

from stackup.engine.runtime.spec import ContainerFile
from stackup.errors import UserError
from stackup.project.secretfiles import container_files


def test_targets_owners_modes_and_sources(tmp_path):
    (tmp_path / "pw.txt").write_text("pw\n")
    project = {"secrets": {"pw": {"file": "pw.txt"}, "tok": {"environment": "TOK"}},
               "configs": {"cfg": {"content": "hello"}, "cfg2": {"file": "pw.txt"}}}
    config = {"secrets": [{"source": "pw", "target": "/run/secrets/pw"},
                          {"source": "tok", "target": "token", "uid": "103", "gid": "104", "mode": "0440"}],
              "configs": [{"source": "cfg"}, {"source": "cfg2", "target": "etc/x.conf", "mode": 0o600}]}
    files = container_files(config, project, {"TOK": "abc"}, str(tmp_path), "services.a")
    assert files == [ContainerFile("/run/secrets/pw", b"pw\n"),
                     ContainerFile("/run/secrets/token", b"abc", 103, 104, 0o440),
                     ContainerFile("/cfg", b"hello"),
                     ContainerFile("/etc/x.conf", b"pw\n", 0, 0, 0o600)]
    assert "abc" not in repr(files)  # a secret's content never shows in a repr


@pytest.mark.parametrize("config, project, message", [
    ({"secrets": ["nope"]}, {}, "services.a.secrets[0]: secret 'nope' is not defined"),
    ({"secrets": ["t"]}, {"secrets": {"t": {"environment": "UNSET"}}}, "the variable UNSET is not set"),
    ({"secrets": ["f"]}, {"secrets": {"f": {"file": "missing"}}}, "secrets.f.file: cannot read"),
    ({"configs": [{"source": "c", "mode": "0999"}]}, {"configs": {"c": {"content": ""}}}, "octal file mode"),
    ({"configs": [{"source": "c", "uid": "app"}]}, {"configs": {"c": {"content": ""}}}, "numeric id"),
])
def test_bad_references_are_refused(tmp_path, config, project, message):
    with pytest.raises(UserError, match=re.escape(message)):
        container_files(config, project, {}, str(tmp_path), "services.a")
