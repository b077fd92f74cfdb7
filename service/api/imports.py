"""``/v1/import``: a data directory uploaded as a zip, validated and imported all or nothing
(the same rules and messages as ``partnermatch import``)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from apiflask import APIBlueprint, abort
from flask import request

from matcher.domain.exceptions import DataDirectoryError
from matcher.usecases.directories import import_directory
from service.auth import auth, current_caller, roles_for
from service.errors import problem
from service.schemas import ImportOut
from service.services import services

bp = APIBlueprint("imports", __name__, url_prefix="/v1", tag="Data")

#: Refuse archives that would unpack to more than this (a zip bomb).
MAX_UNPACKED_BYTES = 1 << 30
MAX_MEMBERS = 1_000


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


def _unpack(archive: zipfile.ZipFile, target: Path) -> Path:
    """Extract safely (no absolute paths, no ``..``, bounded size); return the folder that
    holds ``organisations.csv``."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        abort(422, f"The archive has {len(members)} entries; at most {MAX_MEMBERS}")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        abort(413, "The archive unpacks to more than 1 GiB")
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts or "\\" in member.filename:
            abort(422, f"Unsafe path in the archive: {member.filename!r}")
    archive.extractall(target)
    found = sorted(target.rglob("organisations.csv"), key=lambda p: len(p.parts))
    if not found:
        abort(422, "The archive holds no organisations.csv")
    return found[0].parent


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
        directory = _unpack(_archive(), Path(folder))
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
