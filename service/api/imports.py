"""``/v1/import``: a data directory uploaded as a zip, validated and imported all or nothing
(the same rules and messages as ``partnermatch import``)."""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from apiflask import APIBlueprint, abort
from flask import current_app, request

from matcher.domain.exceptions import DataDirectoryError
from matcher.usecases.directories import import_directory
from service.auth import auth, current_caller, roles_for
from service.errors import problem
from service.schemas import ImportOut
from service.services import services

bp = APIBlueprint("imports", __name__, url_prefix="/v1", tag="Data")

#: At most this many entries in an archive.
MAX_MEMBERS = 1_000
_CHUNK = 1 << 20


def _archive() -> zipfile.ZipFile:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            abort(422, "Attach the zip as the form field 'file'")
        data = upload.read()
    else:
        data = request.get_data()
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        abort(422, "The body is not a zip archive")


def _check_entries(members: list[zipfile.ZipInfo], limit: int) -> None:
    """Refuse, before writing anything: too many entries, an announced size over ``limit``,
    unsafe paths, symbolic links and entries named twice."""
    if len(members) > MAX_MEMBERS:
        abort(422, f"The archive has {len(members)} entries; at most {MAX_MEMBERS}")
    declared = sum(m.file_size for m in members)
    if declared > limit:
        abort(422, f"The archive would unpack to {declared} bytes; at most {limit}")
    seen: set[str] = set()
    for member in members:
        name = member.filename
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
            abort(422, f"Unsafe path in the archive: {name!r}")
        if stat.S_ISLNK(member.external_attr >> 16):
            abort(422, f"The archive holds a symbolic link, {name!r}: send plain files only")
        key = path.as_posix()
        if key in seen:
            abort(422, f"The archive names {name!r} twice")
        seen.add(key)


def _unpack(archive: zipfile.ZipFile, target: Path, limit: int) -> Path:
    """Extract safely (no absolute paths, no ``..``, no links, at most ``limit`` bytes
    actually written, whatever the entries announce); return the folder that holds
    ``organisations.csv``."""
    members = archive.infolist()
    _check_entries(members, limit)
    written = 0
    for member in members:
        destination = target.joinpath(*PurePosixPath(member.filename).parts)
        try:
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            held = 0
            with archive.open(member) as source, destination.open("xb") as sink:
                while chunk := source.read(_CHUNK):
                    held += len(chunk)
                    if written + held > limit:
                        abort(422, f"The archive unpacks to more than {limit} bytes")
                    sink.write(chunk)
            written += held
            if held != member.file_size:
                raise zipfile.BadZipFile(f"it announces {member.file_size} bytes but holds {held}")
        except (zipfile.BadZipFile, zlib.error, EOFError) as err:
            abort(422, f"The archive is damaged at {member.filename!r}: {err}")
        except (NotImplementedError, RuntimeError) as err:  # compression method, encryption
            abort(422, f"Cannot unpack {member.filename!r}: {err}")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            abort(422, f"The archive's entry {member.filename!r} is both a file and a folder")
    found = [p for p in target.rglob("organisations.csv") if p.is_file()]
    if not found:
        abort(422, "The archive holds no organisations.csv")
    depth = min(len(p.parts) for p in found)
    shallowest = sorted(p for p in found if len(p.parts) == depth)
    if len(shallowest) > 1:
        where = ", ".join(str(p.relative_to(target)) for p in shallowest)
        abort(422, f"The archive holds several data directories at one depth ({where}): send one")
    return shallowest[0].parent


@bp.post("/import")
@bp.auth_required(auth, roles=roles_for("write"))
@bp.output(ImportOut)
@bp.doc(
    summary="Import a data directory (zip)",
    responses={422: "Every problem found, as file:line: column: reason; nothing imported"},
)
def import_zip() -> Any:
    """Upload a data directory as ``application/zip`` (or a form field ``file``); it is
    validated, then imported in one transaction: all or nothing."""
    found = services()
    with tempfile.TemporaryDirectory(prefix="partnermatch-import-") as folder:
        limit = int(current_app.config["MAX_IMPORT_UNPACKED_BYTES"])
        directory = _unpack(_archive(), Path(folder), limit)
        try:
            result = import_directory(
                found.repository, directory, found.taxonomies, actor=current_caller().actor
            )
        except DataDirectoryError as err:
            errors = [{"path": p.split(":", 1)[0], "message": p} for p in err.problems]
            return problem(
                422,
                f"{len(err.problems)} problem(s) found; nothing was imported",
                errors=errors,
            )
    found.holder.refresh(force=True)
    return {
        "data_version": found.catalog.data_version(),
        "summary": result.summary,
        "tables": result.report.as_dict(),
    }
