"""Writing run records so that none is ever lost or overwritten: `wattfleet bench` and `wattfleet run`.

The `--out` folder is checked before a run starts (`check_out_folder`). After the run, a record is
created exclusively (never over another file: `name-1.json`, `name-2.json`, ... when the name is taken,
e.g. two runs in the same second); when the asked folder cannot take it any more (removed, full,
read-only), it goes to the working directory, else to the temp folder, and the caller says where.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wattfleet.core.errors import UsageError, WattfleetError

MAX_SUFFIX = 9999


@dataclass(frozen=True)
class Written:
    path: Path
    note: str = ""  # why it is not where it was asked, or ""


def check_out_folder(folder: Path, flag: str = "--out") -> None:
    """UsageError (one line) unless `folder` is an existing folder this process can write into."""
    if not folder.exists():
        raise UsageError(f"{flag} {folder}: no such folder; create it (mkdir -p {folder}) or name an existing one")
    if not folder.is_dir():
        raise UsageError(f"{flag} {folder}: not a folder; name a folder for the records")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {folder}: this user cannot write there; name a writable folder")


def create_exclusive(folder: Path, name: str, text: str) -> Path:
    """Write `text` into a new file `folder/name`, or `stem-N.suffix` when that name is taken."""
    stem, suffix = Path(name).stem, Path(name).suffix
    data = text.encode("utf-8")
    for n in range(MAX_SUFFIX + 1):
        path = folder / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        except OSError:
            path.unlink(missing_ok=True)  # never leave half a record behind
            raise
        return path
    raise FileExistsError(f"{folder}: {stem}-1{suffix} .. {stem}-{MAX_SUFFIX}{suffix} are all taken")


def write_record(text: str, folder: Path, name: str) -> Written:
    """Write a record into `folder` (asked), else the working directory, else the temp folder."""
    tried: list[str] = []
    for where in _places(folder):
        try:
            path = create_exclusive(where, name, text)
        except OSError as exc:
            tried.append(f"{where}: {exc.strerror or exc}")
            continue
        note = "" if where == folder else f"could not write the record to {tried[0]}; wrote it to {path} instead"
        return Written(path, note)
    raise WattfleetError(f"the record {name} could not be written anywhere ({'; '.join(tried)}); "
                         "free some space or pass --out to a writable folder")


def _places(folder: Path) -> list[Path]:
    places = [folder]
    try:
        others = [Path.cwd()]
    except OSError:  # the working directory itself is gone
        others = []
    for other in [*others, Path(tempfile.gettempdir())]:
        if other.resolve() not in {p.resolve() for p in places}:
            places.append(other)
    return places
