"""Debian base images made on this machine, the way Debian's official images are made.

`stackup image bootstrap debian:bookworm` runs mmdebstrap (minbase variant, the suite with
its -updates and -security suites, from the Debian mirror this host's apt is configured
with), applies the settings Debian's official images carry (debuerreotype's "minimizing
config": no service starts, no apt caches or translations, gzipped indexes) and, for a
`-slim` tag, its "slimify" rules (dpkg path-exclude of documentation, manuals and locales,
kept for later installs). The root file system is imported as a one-layer image named
docker.io/library/debian:<tag> with Env PATH and CMD ["bash"], so `FROM debian:bookworm`
builds unchanged on a machine that cannot reach Docker Hub.

Names: debian:<suite>[-slim], where a suite is a codename (bookworm, trixie, sid), a
release number (12), or a suite name (stable, testing, unstable; latest is stable).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from stackup.engine.images.progress import Progress
from stackup.engine.images.reference import DEFAULT_REGISTRY, parse_reference
from stackup.engine.images.store import Image, ImageStore
from stackup.errors import StackupError, UserError

MMDEBSTRAP = "mmdebstrap"
TARFILTER = "mmtarfilter"  # of the same package
APT_DIR = Path("/etc/apt")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RELEASES = {"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky"}
CODENAMES = {"buzz", "rex", "bo", "hamm", "slink", "potato", "woody", "sarge", "etch", "lenny", "squeeze",
             "wheezy", "jessie", "stretch", "buster", "bullseye", "bookworm", "trixie", "forky", "duke",
             "sid", "experimental", "stable", "testing", "unstable", "oldstable", "oldoldstable"}
POCKETS = ("-updates", "-security", "-backports", "-proposed-updates", "/updates")

# debuerreotype's slimify lists: what a slim image leaves out, and the exceptions.
SLIM_EXCLUDES = ("/usr/share/doc/*", "/usr/share/groff/*", "/usr/share/info/*", "/usr/share/linda/*",
                 "/usr/share/lintian/overrides/*", "/usr/share/locale/*", "/usr/share/man/*")
SLIM_INCLUDES = ("/usr/share/doc/*/copyright", "/usr/share/doc/kde/HTML/C/*", "/usr/share/gnome/help/*/C/*",
                 "/usr/share/locale/all_languages", "/usr/share/locale/currency/*",
                 "/usr/share/locale/l10n/*", "/usr/share/locale/languages",
                 "/usr/share/locale/locale.alias", "/usr/share/omf/*/*-C.emf")

# debuerreotype's minimizing config, as every official Debian image has it: path -> (mode, text).
APT_CLEAN = '"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true";'
MINIMIZING = {
    "/usr/sbin/policy-rc.d": (0o755, "#!/bin/sh\n\n# Services are not started by package installs in a "
                                     "container image build.\n\nexit 101\n"),
    "/etc/dpkg/dpkg.cfg.d/docker-apt-speedup": (0o644, "# Image builds need no sync() after each "
                                                       "package is unpacked.\n\nforce-unsafe-io\n"),
    "/etc/apt/apt.conf.d/docker-autoremove-suggests": (0o644, "# Remove what only a Suggests keeps.\n"
                                                              'Apt::AutoRemove::SuggestsImportant "false";\n'),
    "/etc/apt/apt.conf.d/docker-clean": (0o644, "# Keep no package cache in image layers.\n"
                                                f"DPkg::Post-Invoke {{ {APT_CLEAN} }};\n"
                                                f"APT::Update::Post-Invoke {{ {APT_CLEAN} }};\n\n"
                                                'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'),
    "/etc/apt/apt.conf.d/docker-gzip-indexes": (0o644, "# Keep the package lists compressed on disk.\n"
                                                       'Acquire::GzipIndexes "true";\n'),
    "/etc/apt/apt.conf.d/docker-no-languages": (0o644, "# No translation files.\n"
                                                       'Acquire::Languages "none";\n'),
}


@dataclass(frozen=True)
class Target:
    """What to make: the image's name, the Debian suite, and whether it is slim."""

    name: str
    suite: str
    slim: bool


def target(name: str) -> Target:
    """The Target of a name such as debian:bookworm, debian:12-slim, docker.io/library/debian:sid."""
    ref = parse_reference(name)
    if ref.registry != DEFAULT_REGISTRY or ref.repository != "library/debian" or ref.digest:
        raise UserError(f"cannot bootstrap {name!r}: only Debian images can be made here "
                        "(debian:<suite>[-slim], e.g. debian:bookworm); pull other images")
    tag = ref.tag or "latest"
    base, slim = (tag[:-len("-slim")], True) if tag.endswith("-slim") else (tag, False)
    suite = RELEASES.get(base) or ("stable" if base == "latest" else base)
    if suite not in CODENAMES or suite == "experimental":
        raise UserError(f"cannot bootstrap {name!r}: {base!r} is not a Debian release "
                        f"(a codename such as bookworm, a number such as 12, or stable/testing/unstable)")
    return Target(ref.with_tag(tag).normalized(), suite, slim)


# --- the host's Debian mirror ---------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]


@dataclass(frozen=True)
class DebianMirrors:
    """The Debian archive and its security archive (None: the host has none configured)."""

    archive: str
    security: str | None


def parse_one_line(text: str) -> list[AptSource]:
    """sources.list(5) one-line entries: `deb [options] URI suite [component...]`."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        line = re.sub(r"\[[^\]]*\]", " ", line)  # the options
        words = line.split()
        if len(words) >= 3 and words[0] in ("deb", "deb-src"):
            found.append(AptSource((words[0],), (words[1],), (words[2],)))
    return found


def parse_deb822(text: str) -> list[AptSource]:
    """sources.list(5) deb822 stanzas (Types, URIs, Suites; `Enabled: no` skipped)."""
    found = []
    for stanza in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if fields.get("types") and fields.get("uris") and fields.get("suites"):
            found.append(AptSource(tuple(fields["types"].split()), tuple(fields["uris"].split()),
                                   tuple(fields["suites"].split())))
    return found


def host_sources(apt_dir: Path = APT_DIR) -> list[AptSource]:
    """The apt sources configured on this host (read only, never changed)."""
    found: list[AptSource] = []
    files = [apt_dir / "sources.list"] + sorted((apt_dir / "sources.list.d").glob("*.list")) + \
        sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found += parse_deb822(text) if path.suffix == ".sources" else parse_one_line(text)
    return found


def _base_suite(suite: str) -> tuple[str, bool]:
    """(the release a suite belongs to, whether it is the security pocket)."""
    for pocket in POCKETS:
        if suite.endswith(pocket):
            return suite[:-len(pocket)], pocket in ("-security", "/updates")
    return suite, False


def debian_mirrors(sources: list[AptSource], where: str = str(APT_DIR)) -> DebianMirrors:
    """The Debian archive and security archive among the host's sources: an http(s) `deb`
    source of a Debian suite (bookworm, bookworm-updates, ...; not another vendor's)."""
    archive = security = None
    for source in sources:
        if "deb" not in source.types:
            continue
        for uri in source.uris:
            if not uri.startswith(("http://", "https://")):
                continue
            for suite in source.suites:
                base, is_security = _base_suite(suite)
                if base not in CODENAMES:
                    continue
                if is_security or uri.rstrip("/").endswith("-security"):
                    security = security or uri.rstrip("/")
                else:
                    archive = archive or uri.rstrip("/")
    if archive is None:
        raise UserError(f"no Debian mirror found in this host's apt sources ({where}/sources.list, "
                        f"{where}/sources.list.d/*.list, *.sources): name one with --mirror URL")
    return DebianMirrors(archive, security)


def suite_exists(client: httpx.Client, uri: str, suite: str) -> bool:
    """Whether the archive at `uri` has `suite` (its Release file is there)."""
    for name in ("InRelease", "Release"):
        try:
            response = client.head(f"{uri}/dists/{suite}/{name}")
        except httpx.HTTPError as exc:
            raise UserError(f"cannot reach the Debian mirror {uri}: {exc}") from None
        if response.status_code == 200:
            return True
    return False


def apt_lines(t: Target, mirrors: DebianMirrors, progress: Progress) -> list[str]:
    """The image's apt sources: the suite, its -updates and -security where the mirrors have them."""
    with httpx.Client(timeout=30.0, follow_redirects=True) as client:
        if not suite_exists(client, mirrors.archive, t.suite):
            raise UserError(f"cannot bootstrap {parse_reference(t.name).familiar()}: the Debian mirror "
                            f"{mirrors.archive} has no suite {t.suite!r} (no dists/{t.suite}/Release)")
        lines = [f"deb {mirrors.archive} {t.suite} main"]
        if suite_exists(client, mirrors.archive, f"{t.suite}-updates"):
            lines.append(f"deb {mirrors.archive} {t.suite}-updates main")
        if mirrors.security and suite_exists(client, mirrors.security, f"{t.suite}-security"):
            lines.append(f"deb {mirrors.security} {t.suite}-security main")
        elif t.suite not in ("sid", "unstable", "testing"):
            progress.message(f"note: no {t.suite}-security suite on this host's mirrors; the image "
                             "has no security updates source")
    return lines


# --- the root file system ---------------------------------------------------------------


def _install(files: Path, path: str) -> str:
    """A hook command that installs MINIMIZING[path] into the chroot ("$1")."""
    mode, text = MINIMIZING[path]
    source = files / path.strip("/").replace("/", "_")
    source.write_text(text)
    return f'install -D -o 0 -g 0 -m {mode:o} {shlex.quote(str(source))} "$1"{shlex.quote(path)}'


def _hooks(t: Target, files: Path) -> list[str]:
    """mmdebstrap options: the minimizing config, and the slim rules for a slim image."""
    # policy-rc.d goes in before the packages are installed, and mmdebstrap is told to leave
    # it alone (it would remove it at the end, taking it for its own temporary one).
    options = ["--skip=chroot/policy-rc.d", f"--extract-hook={_install(files, '/usr/sbin/policy-rc.d')}"]
    if t.slim:
        # dpkg honours these as it unpacks (essential packages included), and so will later
        # installs in the image: the same rules as the official slim images.
        options += [f"--dpkgopt=path-exclude={p}" for p in SLIM_EXCLUDES]
        options += [f"--dpkgopt=path-include={p}" for p in SLIM_INCLUDES]
    hooks = [_install(files, path) for path in sorted(MINIMIZING) if path != "/usr/sbin/policy-rc.d"]
    if t.slim:
        header = "# This is the \"slim\" variant of the Debian base image: files rarely needed in\\n" \
                 "# containers are left out, and this file keeps them out.\\n\\n"
        hooks.append(f'{{ printf {shlex.quote(header)}; cat "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap; }} '
                     '> "$1"/etc/dpkg/dpkg.cfg.d/docker && rm "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap')
        # What dpkg leaves of the excluded trees: empty folders, dangling links (as slimify).
        roots = " ".join(sorted({p.rsplit("/", 1)[0] for p in SLIM_EXCLUDES}))
        hooks.append(f'chroot "$1" sh -c \'for d in {roots}; do [ -d "$d" ] || continue; while [ -n "$(find "$d" '
                     f'-depth -mindepth 1 \\( -empty -o -xtype l \\) -print -delete)" ]; do :; done; done\'')
    # The host's name and resolvers are no part of an image (the runtime provides them); apt's
    # binary caches of the install are not either (with the config above, apt-get clean, as
    # mmdebstrap's cleanup runs it, no longer knows their names).
    hooks.append('rm -f "$1"/etc/resolv.conf "$1"/etc/hostname "$1"/var/cache/apt/*.bin')
    return options + [f"--customize-hook={h}" for h in hooks]


def make_rootfs(t: Target, lines: list[str], out: Path, progress: Progress) -> None:
    """Run mmdebstrap: the root file system of `t` as a plain tar at `out` (its /dev empty)."""
    for tool in (MMDEBSTRAP, TARFILTER):
        if shutil.which(tool) is None:
            raise UserError(f"{tool} is not installed: install the Debian package mmdebstrap "
                            "(apt-get install mmdebstrap)")
    with tempfile.TemporaryDirectory(prefix="stackup-bootstrap-", dir=out.parent) as work:
        os.chmod(work, 0o755)  # apt downloads as the _apt user, into the chroot made in here
        argv = [MMDEBSTRAP, "--variant=minbase", "--mode=auto", "--format=tar", "--components=main",
                *_hooks(t, Path(work)), t.suite, "-", *lines]
        tail: list[str] = []
        with open(out, "wb") as sink, tempfile.TemporaryFile() as filter_errors:
            mm = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=False,
                                  env={"PATH": PATH, "TMPDIR": work, "LC_ALL": "C.UTF-8"})
            try:
                assert mm.stdout is not None and mm.stderr is not None
                # Device nodes are the runtime's to make: the tar keeps /dev but not its contents.
                filt = subprocess.Popen([TARFILTER, "--path-exclude=/dev/*"], stdin=mm.stdout, stdout=sink,
                                        stderr=filter_errors)
                mm.stdout.close()
                hooks_said = False
                for raw in mm.stderr:
                    line = raw.decode(errors="replace").rstrip()
                    if not line:
                        continue
                    tail = (tail + [line])[-8:]
                    if "-hook in shell:" in line:  # each hook's whole command: said once, shortly
                        if not hooks_said:
                            progress.message("  I: applying the settings of Debian's official images...")
                        hooks_said = True
                    elif not line.startswith("W: Download is performed unsandboxed"):
                        progress.message(f"  {line}")
                code, filter_code = mm.wait(), filt.wait()
                filter_errors.seek(0)
                filter_tail = filter_errors.read().decode(errors="replace").strip().splitlines()[-1:]
            except BaseException:
                mm.terminate()  # mmdebstrap unmounts and removes its chroot on SIGTERM
                mm.wait()
                raise
    if code != 0:
        errors = [line for line in tail if line.startswith("E:")] or tail[-1:]
        raise StackupError(f"mmdebstrap failed (exit code {code}): {' / '.join(errors) or 'no output'}")
    if filter_code != 0:
        raise StackupError(f"{TARFILTER} failed (exit code {filter_code}): {' '.join(filter_tail)}")


def import_image(store: ImageStore, t: Target, tar: Path, lines: list[str]) -> Image:
    """Store the root file system as the image `t.name`, configured as Debian's images are."""
    variant = " slim" if t.slim else ""
    message = f"debian {t.suite}{variant}: mmdebstrap --variant=minbase from {lines[0].split()[1]}"
    return store.import_rootfs(tar, t.name, [f"ENV PATH={PATH}", 'CMD ["bash"]'], message)


@contextlib.contextmanager
def _scratch(store: ImageStore) -> Iterator[Path]:
    """A folder on the store's file system for the tar (hundreds of MB: not /tmp's tmpfs)."""
    store.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bootstrap-", dir=store.root) as path:
        os.chmod(path, 0o755)
        yield Path(path)


def bootstrap(store: ImageStore, name: str, mirror: str | None = None,
              progress: Progress | None = None) -> Image:
    """Make the Debian image `name` (debian:<suite>[-slim]) from `mirror`, else the host's
    configured Debian mirror, and store it under that name."""
    progress = progress or Progress()
    t = target(name)
    mirrors = DebianMirrors(mirror.rstrip("/"), None) if mirror else debian_mirrors(host_sources())
    if mirror:
        # A named mirror: its own -security suites, when it has them, else the host's.
        with contextlib.suppress(UserError):
            mirrors = DebianMirrors(mirrors.archive, debian_mirrors(host_sources()).security)
    lines = apt_lines(t, mirrors, progress)
    familiar = parse_reference(t.name).familiar()
    progress.message(f"Bootstrapping {familiar}: mmdebstrap --variant=minbase {t.suite}"
                     f"{' (slim)' if t.slim else ''} from {', '.join(line.split()[1] + ' ' + line.split()[2] for line in lines)}")
    started = time.monotonic()
    with _scratch(store) as scratch:
        tar = scratch / "rootfs.tar"
        make_rootfs(t, lines, tar, progress)
        progress.message(f"Importing the root file system ({tar.stat().st_size // 1_000_000} MB)")
        image = import_image(store, t, tar, lines)
    progress.message(f"Bootstrapped {familiar} ({image.short_id}) in {time.monotonic() - started:.0f}s")
    return image
