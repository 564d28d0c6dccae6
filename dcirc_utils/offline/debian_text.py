"""Text that the offline corpora read from Debian packages: where to find it, how to fetch it, and the check that it
is exactly the pinned text.

A model card describes its corpus by the packages' versions, so a copy that differs by one byte must fail rather than
silently give another corpus. Each source (:class:`DebianText`; the table is ``offline.prose.SOURCES``) names a Debian
package, its pinned version, the folder used inside it and the SHA-256 of every file read, or, for a folder of
hundreds of files (the Python documentation), one digest of the ``sha256sum`` listing of those files.

:func:`locate` uses a folder given to it, else the copy a system installation left (``apt install PACKAGE``), else a
copy in the source's folder under ``~/.cache/dcirc``, else (with ``fetch_missing``) fills that folder with ``apt-get
download PACKAGE=VERSION`` and ``dpkg-deb -x``: Debian's ordinary package client, no root needed. Only the retrain commands call it; nothing
reads these packages at run time. Every error names what is missing or different and the fix.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

__all__ = ["TreePin", "DebianText", "sha256_file", "tree_files", "tree_digest", "check", "fetch", "locate"]


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class TreePin:
    """Many files pinned by one digest.

    Attributes:
        suffix: the files are every ``*{suffix}`` under the folder (recursively) ...
        skip: ... except those whose path relative to it (POSIX form) starts with one of these prefixes.
        count: how many files that selects in the pinned version.
        sha256: the SHA-256 of their ``sha256sum`` listing (``"{digest}  {path}\\n"`` per file, paths sorted by code
            point as ``LC_ALL=C sort`` does), so that ``find . -name '*.html' | LC_ALL=C sort | xargs sha256sum |
            sha256sum`` run on the same selection gives the same value.
    """

    suffix: str
    skip: tuple[str, ...]
    count: int
    sha256: str


@dataclass(frozen=True)
class DebianText:
    """One text source in a Debian package (the table is ``offline.prose.SOURCES``).

    Attributes:
        name: the short name used in ``sources=(...)`` arguments, e.g. ``"wordnet"``.
        title: how errors name the text (``"WordNet"``).
        package, version: the Debian package and the version whose files are pinned.
        root: the folder used, as a path inside the package (``usr/share/wordnet``); also where a system installation
            puts it.
        cache: the folder under ``~/.cache/dcirc`` that a fetched copy goes to.
        licence: the licence, quoted from the package's copyright file (model cards repeat it).
        reader: ``reader(folder) -> list[str]``, the sentences of the text, in file order.
        files: relative path -> SHA-256 of each file read (for a few files).
        tree: or one digest for many files (:class:`TreePin`).
        label: how a corpus names the text and its version (``"WordNet 3.0"``).
        holds: how a "missing" error describes the folder to pass.
        install: the fix when the text cannot be fetched (no ``apt-get`` or ``dpkg-deb``).
        manual: the fix when ``apt-get download`` fails.
        absent: the message when the text is not installed and fetching is off.
    """

    name: str
    title: str
    package: str
    version: str
    root: str
    cache: Path
    licence: str
    reader: Callable[[Path], list[str]]
    files: dict[str, str] = field(default_factory=dict)
    tree: TreePin | None = None
    label: str = ""
    holds: str = ""
    install: str = ""
    manual: str = ""
    absent: str = ""

    @property
    def system(self) -> Path:
        """Where ``apt install PACKAGE`` puts the folder."""
        return Path("/") / self.root


def tree_files(folder: Path, pin: TreePin) -> list[str]:
    """The files a :class:`TreePin` selects under ``folder``, as sorted relative POSIX paths."""
    folder = Path(folder)
    rels = (p.relative_to(folder).as_posix() for p in folder.rglob(f"*{pin.suffix}") if p.is_file())
    return sorted(r for r in rels if not r.startswith(pin.skip))


def tree_digest(folder: Path, rels: list[str]) -> str:
    """The SHA-256 of the ``sha256sum`` listing of ``rels`` (relative to ``folder``; see :class:`TreePin`)."""
    listing = "".join(f"{sha256_file(Path(folder) / r)}  {r}\n" for r in rels)
    return hashlib.sha256(listing.encode()).hexdigest()


def _marker(src: DebianText) -> str:
    """A file whose presence says that a folder holds (some version of) the source."""
    return next(iter(src.files)) if src.files else "index" + (src.tree.suffix if src.tree else "")


def check(src: DebianText, folder: str | Path) -> Path:
    """``folder`` if it holds exactly the pinned files of ``src``.

    Raises:
        FileNotFoundError: a file (or every file of a tree) is missing; names them and the folder to pass.
        RuntimeError: a file differs from the pinned version; names them, the version and the fix.
    """
    folder = Path(folder)
    if src.tree is None:
        missing = [name for name in src.files if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} has no {src.title} data files {missing}; pass the folder that holds "
                                    f"{src.holds}")
        bad = [name for name, want in src.files.items() if want and sha256_file(folder / name) != want]
    else:
        rels = tree_files(folder, src.tree)
        if not rels:
            raise FileNotFoundError(f"{folder} has no {src.title} data files ['*{src.tree.suffix}']; pass the folder "
                                    f"that holds {src.holds}")
        bad = []
        if len(rels) != src.tree.count or tree_digest(folder, rels) != src.tree.sha256:
            bad = [f"{len(rels)} *{src.tree.suffix} files (pinned: {src.tree.count}, listing digest "
                   f"{src.tree.sha256[:16]}...)"]
    if bad:
        raise RuntimeError(f"{src.title} files {bad} in {folder} differ from Debian's {src.package} {src.version}, "
                           f"the text the model cards describe; fix: use that version (apt-get download "
                           f"{src.package}={src.version}), or delete {src.cache} to fetch it again")
    return folder


def fetch(src: DebianText, dest: Path) -> Path:
    """Unpack the pinned package of ``src`` with ``apt-get download`` and ``dpkg-deb -x`` and copy the folder it uses
    (for a tree, only the selected files) to ``dest``. The version pin is tried first, then the archive's current
    version, which :func:`check` then refuses by name if it differs."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{src.title} is not installed and {tool} is missing to fetch it; fix: {src.install}")
    with tempfile.TemporaryDirectory() as tmp:
        for cmd in (["apt-get", "download", f"{src.package}={src.version}"], ["apt-get", "download", src.package]):
            got = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if got.returncode == 0:
                break
        debs = sorted(Path(tmp).glob(f"{src.package}_*.deb"))
        if not debs:
            raise RuntimeError(f"`apt-get download {src.package}` failed ({got.stderr.strip()[-300:]}); fix: run "
                               f"`apt-get update` first, or {src.manual}")
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True, capture_output=True)
        root = unpacked / src.root
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        if src.tree is None:
            shutil.copytree(root, dest)
        else:
            for rel in tree_files(root, src.tree):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / rel, dest / rel)
    return dest


def locate(src: DebianText, folder: str | Path | None = None, fetch_missing: bool = True) -> Path:
    """The checked folder of ``src``: ``folder`` if given, else the system copy, else the cache, else (with
    ``fetch_missing``) a fresh download into the cache. The first copy found is checked; one that differs fails
    (:func:`check`) rather than being passed over, so the text never changes silently.

    Raises:
        FileNotFoundError / RuntimeError: naming what is missing or different and how to fix it.
    """
    if folder is not None:
        return check(src, folder)
    for candidate in (src.system, src.cache):
        if (candidate / _marker(src)).is_file():
            return check(src, candidate)
    if not fetch_missing:
        raise FileNotFoundError(src.absent)
    return check(src, fetch(src, src.cache))
