"""COPY and ADD into a build step's view, with Docker's (BuildKit's) rules.

- The destination is taken relative to WORKDIR and resolved inside the destination
  root: the image's own symlinks (`/bin -> usr/bin`) are followed there, never to
  the host's files (`securejoin`). A destination ending in `/` (or `.`) is a folder;
  so is one that exists as a folder. Several sources need a folder.
- A source folder's CONTENTS are copied, not the folder itself. A named source that
  is a symlink is followed (inside its root); inside a copied folder symlinks stay
  symlinks. Hardlinks among the copied files stay hardlinks.
- Modes, mtimes and xattrs are kept; `--chmod` replaces the mode of every file and
  folder copied (never of a symlink). Owners become 0:0 (files from the build
  context belong to nobody in the image), or stay as they were for `COPY --from`
  (`keep_owners`), or are `--chown`'s user and group, resolved in the destination's
  /etc/passwd and /etc/group. Folders made on the way to the destination are 0755
  and belong to root, or to `--chown`'s user (as BuildKit makes them).
- `--parents` keeps each source's path below the destination; `excluded` leaves out
  what `--exclude` names (paths relative to the source folder being copied).
- ADD of a local archive (tar, plain or gzip/bzip2/xz/zstd) extracts it into the
  destination; a file that is not one is copied as it is. ADD of a URL downloads it.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import functools
import lzma
import os
import posixpath
import stat
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, cast

import zstandard

from stackup.engine.runtime.securejoin import resolve_in_root
from stackup.errors import StackupError, UserError

Excluded = Callable[[str], bool]  # a path below the source being copied
# (the source's path as given, a path below it): whether to leave it out
SourceExcluded = Callable[[str, str], bool]
COPY_CHUNK = 1 << 20


class CopyError(StackupError):
    """A COPY or ADD failed on the way (a file vanished, a download broke)."""


# --- COPY --------------------------------------------------------------------------------

def copy_in(src_root: Path, sources: Iterable[tuple[str, bool]], dest_root: Path, dest: str, *,
            workdir: str = "/", chown: str | None = None, chmod: str | None = None,
            parents: bool = False, excluded: SourceExcluded | None = None, keep_owners: bool = False,
            unpack_archives: bool = False, what: str = "COPY") -> None:
    """Copy `sources` ((path relative to `src_root`, is_dir) pairs) into `dest_root` at `dest`.

    `unpack_archives`: ADD's rule, a source file that is a tar archive is extracted.
    `what` names the instruction in errors ("COPY", "ADD").
    """
    items = list(sources)
    owner = resolve_owner(dest_root, chown) if chown else None
    mode = parse_chmod(chmod) if chmod else None
    dest_path = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    folder_form = dest in ("", ".") or dest.endswith(("/", "/.")) or parents
    target = Path(resolve_in_root(str(dest_root), dest_path))
    if len(items) > 1 and not folder_form and not target.is_dir():
        raise UserError(f"When using {what} with more than one source file, the destination "
                        "must be a directory and end with a /")
    copier = _Copier(dest_root, owner, mode, keep_owners, None)
    for rel, _ in items:
        # what `excluded` is asked: the path below this source (fsutil's --exclude rule),
        # with the source's own path at hand for a context-wide rule (.dockerignore)
        copier.excluded = functools.partial(excluded, rel) if excluded is not None else None
        src = Path(resolve_in_root(str(src_root), rel))  # a named symlink is followed, in its root
        try:
            st = os.lstat(src)
        except FileNotFoundError:
            raise UserError(f"{what} failed: {rel}: no such file or directory") from None
        into = target
        if parents:  # the source's own path below the destination, resolved in the root
            into = Path(resolve_in_root(str(dest_root), posixpath.join(dest_path, _clean(rel)),
                                        follow_last=stat.S_ISDIR(st.st_mode)))
        if unpack_archives and stat.S_ISREG(st.st_mode) and is_archive(src):
            copier.make_dirs(into)
            extract(src, dest_root, into)
            continue
        if stat.S_ISDIR(st.st_mode):
            if parents:
                copier.make_parents(src_root, rel, dest_path)
            copier.make_dirs(into)
            copier.contents(src, into)
        else:
            if parents:
                copier.make_parents(src_root, posixpath.dirname(_clean(rel)), dest_path)
            elif folder_form or into.is_dir():
                into = into / src.name
            copier.make_dirs(into.parent)
            copier.entry(src, into, os.lstat(src))
    copier.finish()


def resolve_owner(root: Path, chown: str) -> tuple[int, int]:
    """`--chown`'s user[:group] as (uid, gid): numbers as they are, names looked up in the
    root's /etc/passwd and /etc/group. A user alone: its primary group when named, the
    same number when numeric (as BuildKit does)."""
    user, _, group = chown.partition(":")
    if not user:
        raise UserError(f"--chown={chown}: a user is needed")
    if user.isdigit():
        uid = gid = int(user)
    else:
        entry = _lookup(root, "/etc/passwd", user)
        if entry is None or len(entry) < 4 or not (entry[2].isdigit() and entry[3].isdigit()):
            raise UserError(f"--chown={chown}: unable to find user {user}: no matching entries "
                            "in passwd file")
        uid, gid = int(entry[2]), int(entry[3])
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            entry = _lookup(root, "/etc/group", group)
            if entry is None or len(entry) < 3 or not entry[2].isdigit():
                raise UserError(f"--chown={chown}: unable to find group {group}: no matching "
                                "entries in group file")
            gid = int(entry[2])
    return uid, gid


def parse_chmod(chmod: str) -> int:
    """`--chmod`'s octal mode."""
    try:
        mode = int(chmod, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise UserError(f"--chmod={chmod}: invalid mode (an octal number up to 7777 is expected)")
    return mode


def _lookup(root: Path, path: str, name: str) -> list[str] | None:
    try:
        with open(resolve_in_root(str(root), path), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if fields and fields[0] == name:
                    return fields
    except (FileNotFoundError, NotADirectoryError):
        pass
    return None


def _clean(rel: str) -> str:
    """A source's path as it goes below the destination with --parents."""
    return posixpath.normpath("/" + rel).lstrip("/")


class _Copier:
    """One COPY's copying: what it made, the hardlinks it has seen, folders' mtimes to set
    last (copying into a folder changes its mtime)."""

    def __init__(self, dest_root: Path, owner: tuple[int, int] | None, mode: int | None,
                 keep_owners: bool, excluded: Excluded | None):
        self.dest_root = dest_root
        self.owner = owner
        self.mode = mode
        self.keep_owners = keep_owners
        self.excluded = excluded
        self.links: dict[tuple[int, int], Path] = {}
        self.dir_times: list[tuple[Path, int]] = []

    def make_dirs(self, path: Path) -> None:
        """`mkdir -p` below the root: made folders are 0755, root's or --chown's."""
        missing: list[Path] = []
        while not path.exists() and not path.is_symlink():
            missing.append(path)
            path = path.parent
        if path.is_symlink():
            raise CopyError(f"cannot copy into /{path.relative_to(self.dest_root)}: "
                            "a symbolic link where a folder is needed")
        if not path.is_dir():
            raise CopyError(f"cannot copy to non-directory: /{path.relative_to(self.dest_root)}")
        uid, gid = self.owner or (0, 0)
        for made in reversed(missing):
            os.mkdir(made, 0o755)
            os.chown(made, uid, gid, follow_symlinks=False)
            os.chmod(made, 0o755)

    def make_parents(self, src_root: Path, rel: str, dest_path: str) -> None:
        """--parents: the source's folders on the way to it, below the destination: made as
        they are in the source (mode, mtime), the image's own symlinks followed in its root."""
        parts = [p for p in _clean(rel).split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            dst = Path(resolve_in_root(str(self.dest_root), posixpath.join(dest_path, sub)))
            if dst.exists():
                continue
            self.make_dirs(dst.parent)
            st = os.stat(resolve_in_root(str(src_root), sub))
            os.mkdir(dst, 0o700)
            self._attrs(dst, st, None)
            self.dir_times.append((dst, st.st_mtime_ns))

    def contents(self, src: Path, dst: Path, rel: str = "") -> None:
        """Everything inside the folder `src` into the folder `dst`."""
        for name in sorted(os.listdir(src)):
            below = f"{rel}{name}"
            if self.excluded is not None and self.excluded(below):
                continue
            path = src / name
            st = os.lstat(path)
            self.entry(path, dst / name, st, below)

    def entry(self, src: Path, dst: Path, st: os.stat_result, rel: str = "") -> None:
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFSOCK:
            return  # as Docker: a socket is no file
        existing = _lstat(dst)
        if kind == stat.S_IFDIR:
            folder = self._dir_target(dst, existing)
            if folder is None:
                os.mkdir(dst, 0o700)
                folder = dst
            self._attrs(folder, st, src)  # an existing folder takes the source's too, as in BuildKit
            self.contents(src, folder, rel + "/")
            self.dir_times.append((folder, st.st_mtime_ns))
            return
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                raise CopyError(f"cannot replace the directory /{dst.relative_to(self.dest_root)} "
                                "with a file")
            os.unlink(dst)
        if st.st_nlink > 1:
            first = self.links.setdefault((st.st_dev, st.st_ino), dst)
            if first != dst:
                os.link(first, dst, follow_symlinks=False)
                return
        if kind == stat.S_IFREG:
            self._file(src, dst, st)
            return
        if kind == stat.S_IFLNK:
            os.symlink(os.readlink(src), dst)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            os.mknod(dst, kind | 0o600, st.st_rdev)
        elif kind == stat.S_IFIFO:
            os.mkfifo(dst, 0o600)
        self._attrs(dst, st, src)
        if kind != stat.S_IFLNK:
            os.utime(dst, ns=(st.st_mtime_ns, st.st_mtime_ns))
        else:
            os.utime(dst, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)

    def _dir_target(self, dst: Path, existing: os.stat_result | None) -> Path | None:
        """Where a folder goes: `dst`, or the folder an image's symlink there points at
        (resolved inside the root: `/lib -> usr/lib`). None: make it."""
        if existing is None:
            return None
        if stat.S_ISDIR(existing.st_mode):
            return dst
        if stat.S_ISLNK(existing.st_mode):
            inside = "/" + str(dst.relative_to(self.dest_root))
            resolved = Path(resolve_in_root(str(self.dest_root), inside))
            if resolved.is_dir() and not resolved.is_symlink():
                return resolved
        raise CopyError(f"cannot copy to non-directory: /{dst.relative_to(self.dest_root)}")

    def _file(self, src: Path, dst: Path, st: os.stat_result) -> None:
        fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o600)
            try:
                _copy_data(fd_in, fd_out)
                self._attrs(fd_out, st, src)
                os.utime(fd_out, ns=(st.st_mtime_ns, st.st_mtime_ns))
            finally:
                os.close(fd_out)
        finally:
            os.close(fd_in)

    def _attrs(self, target: Path | int, st: os.stat_result, src: Path | None) -> None:
        """Owner, xattrs and mode (chown first: it clears set-id bits)."""
        follow = {} if isinstance(target, int) else {"follow_symlinks": False}
        if self.owner is not None:
            uid, gid = self.owner
        elif self.keep_owners:
            uid, gid = st.st_uid, st.st_gid
        else:
            uid = gid = 0
        os.chown(target, uid, gid, **follow)
        if src is not None:
            _copy_xattrs(src, target)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, self.mode if self.mode is not None else stat.S_IMODE(st.st_mode))

    def finish(self) -> None:
        for path, mtime in reversed(self.dir_times):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)
        self.dir_times = []


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _copy_data(fd_in: int, fd_out: int) -> None:
    """The kernel copies (copy_file_range, else sendfile): the data never enters Python."""
    kernel_copy = True
    while True:
        if kernel_copy:
            try:
                n = os.copy_file_range(fd_in, fd_out, COPY_CHUNK * 16)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                kernel_copy = False
                continue
        else:
            n = os.sendfile(fd_out, fd_in, None, COPY_CHUNK * 16)
        if n == 0:
            return


def _copy_xattrs(src: Path, target: Path | int) -> None:
    """The source's xattrs (security.capability, user.*), never overlay's own; a filesystem
    that takes none is no error (BuildKit's best effort)."""
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    follow = {} if isinstance(target, int) else {"follow_symlinks": False}
    for name in names:
        if name.startswith("trusted.overlay."):
            continue
        with contextlib.suppress(OSError):
            os.setxattr(target, name, os.getxattr(src, name, follow_symlinks=False), **follow)


# --- ADD of an archive -------------------------------------------------------------------

def _magic_reader(raw: IO[bytes]) -> IO[bytes]:
    """A reader of the decompressed stream, by the file's first bytes (`raw` itself when
    it is not compressed)."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if head.startswith(b"BZh"):
        return cast(IO[bytes], bz2.BZ2File(raw))
    if head.startswith(b"\xfd7zXZ\x00"):
        return cast(IO[bytes], lzma.LZMAFile(raw))
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return raw


@contextlib.contextmanager
def _tar_stream(path: Path) -> Iterator[tarfile.TarFile]:
    with open(path, "rb") as raw:
        reader = _magic_reader(raw)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            yield tar


def is_archive(path: Path) -> bool:
    """Whether ADD extracts `path`: a tar (plain or compressed) whose first entry reads."""
    try:
        with _tar_stream(path) as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError,
            zstandard.ZstdError):
        return False


def extract(archive: Path, dest_root: Path, into: Path) -> None:
    """Extract the tar `archive` into the folder `into` (inside `dest_root`): owners, modes,
    mtimes and xattrs as the tar says. Every path is resolved inside `dest_root` (an entry
    through a symlink follows it there, as Docker's chrooted untar does); `..` that would
    leave `into` is refused. `.wh.` names are ordinary files here (Docker treats them so)."""
    rel = os.path.relpath(into, dest_root)
    top = "/" if rel == "." else "/" + rel
    dir_times: list[tuple[str, int]] = []
    try:
        with _tar_stream(archive) as tar:
            for member in tar:
                _extract_member(tar, member, str(dest_root), top, dir_times)
    except tarfile.TarError as exc:
        raise CopyError(f"ADD {archive.name}: the archive is damaged: {exc}") from exc
    for path, mtime in reversed(dir_times):
        with contextlib.suppress(FileNotFoundError):
            os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


def _inside(top: str, name: str, what: str) -> str:
    """The entry's path inside the root, below `top` (a tar's leading / is dropped)."""
    clean = posixpath.normpath("/" + name)
    if any(part == ".." for part in posixpath.normpath(name.lstrip("/")).split("/")):
        raise UserError(f"ADD: archive entry {name!r} would escape the destination ({what})")
    return posixpath.join(top, clean.lstrip("/")) if clean != "/" else top


def _extract_member(tar: tarfile.TarFile, m: tarfile.TarInfo, root: str, top: str,
                    dir_times: list[tuple[str, int]]) -> None:
    inside = _inside(top, m.name, "path")
    path = resolve_in_root(root, inside, follow_last=False)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755, exist_ok=True)
    existing = _lstat(Path(path))
    if existing is not None and not (m.isdir() and stat.S_ISDIR(existing.st_mode)):
        if stat.S_ISDIR(existing.st_mode):
            import shutil

            shutil.rmtree(path)
        else:
            os.unlink(path)
    mtime = int(m.mtime) * 1_000_000_000
    if m.isdir():
        if existing is None or not stat.S_ISDIR(existing.st_mode):
            os.mkdir(path, 0o700)
        dir_times.append((path, mtime))
    elif m.isreg():
        src = tar.extractfile(m)
        assert src is not None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(COPY_CHUNK):
                out.write(chunk)
    elif m.issym():
        os.symlink(m.linkname, path)
    elif m.islnk():
        target = resolve_in_root(root, _inside(top, m.linkname, "hardlink target"))
        os.link(target, path, follow_symlinks=False)
        return
    elif m.ischr() or m.isblk():
        kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
        os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
    elif m.isfifo():
        os.mkfifo(path, 0o600)
    else:
        return  # other kinds (GNU extensions): skipped, as Docker's untar does
    os.chown(path, m.uid, m.gid, follow_symlinks=False)
    for key, value in m.pax_headers.items():
        if key.startswith("SCHILY.xattr.") and not key.startswith("SCHILY.xattr.trusted.overlay."):
            with contextlib.suppress(OSError):
                os.setxattr(path, key[len("SCHILY.xattr."):],
                            value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
    if not m.issym():
        os.chmod(path, stat.S_IMODE(m.mode))
    if not m.isdir():
        os.utime(path, ns=(mtime, mtime), follow_symlinks=False)


# --- ADD of a URL ------------------------------------------------------------------------

def download(url: str, into: Path, *, checksum: str | None = None, name: str | None = None,
             timeout: float = 60.0) -> Path:
    """Download `url` into the folder `into`; the file is named `name`, else after the
    URL's path (else `index`), mode 0600, its mtime the server's Last-Modified.
    `checksum` ("sha256:<hex>", ADD --checksum) is verified. Errors are one line."""
    import hashlib

    import httpx

    expected = _parse_checksum(checksum) if checksum else None
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as resp:
            if resp.status_code >= 400:
                raise CopyError(f"ADD {url}: the server answered {resp.status_code} "
                                f"{resp.reason_phrase}")
            filename = name or _url_filename(resp)
            path = into / filename
            digest = hashlib.sha256()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in resp.iter_bytes(COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            modified = resp.headers.get("last-modified")
    except httpx.HTTPError as exc:
        raise CopyError(f"ADD {url}: {exc or type(exc).__name__}") from None
    os.chmod(path, 0o600)
    if expected is not None and digest.hexdigest() != expected:
        path.unlink()
        raise CopyError(f"ADD {url}: checksum mismatch: expected sha256:{expected}, "
                        f"got sha256:{digest.hexdigest()}")
    if modified:
        from email.utils import parsedate_to_datetime

        with contextlib.suppress(TypeError, ValueError):
            when = int(parsedate_to_datetime(modified).timestamp())
            os.utime(path, (when, when))
    return path


def _parse_checksum(checksum: str) -> str:
    algorithm, _, hexdigest = checksum.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or \
            any(c not in "0123456789abcdef" for c in hexdigest):
        raise UserError(f"--checksum={checksum}: expected sha256:<64 hex digits>")
    return hexdigest


def _url_filename(resp: object) -> str:
    import httpx

    assert isinstance(resp, httpx.Response)
    disposition = resp.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value.strip('"'):
            return posixpath.basename(value.strip('"')) or "index"
    base = posixpath.basename(resp.url.path)
    return base if base not in ("", ".", "..") else "index"


