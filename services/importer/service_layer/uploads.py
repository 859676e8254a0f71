"""Accepting an upload: the file is checked as a whole at once, stored, and a job is queued.

File-level errors (FileRejected) reach the caller at once and nothing is stored; the rows are
checked and imported later by a job runner (runner.py).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from bus.i18n import _l
from services.importer.adapters import repository as repo
from services.importer.adapters.wakeup import JobSignal
from services.importer.domain import FileRejected, parse_upload
from services.importer.domain.jobs import JobStatus

from .unit_of_work import ImporterUnitOfWork

_SPOOL_IN_MEMORY = 1 << 20


@dataclass(frozen=True)
class Upload:
    """What the administrator sent: the account, who they are, the file and the dry-run flag."""

    account_id: str
    requested_by: str | None
    filename: str
    stream: BinaryIO | IO[bytes]
    dry_run: bool = False


def create_import_job(uow: ImporterUnitOfWork, signal: JobSignal, upload: Upload) -> dict[str, Any]:
    """Check the file, store it with a queued job, wake the runners; answer the job's summary.

    Raises FileRejected for a file that cannot be imported at all (nothing is stored).
    """
    config = uow.config
    stream = _rewindable(upload.stream, config.max_bytes)
    start = stream.tell()
    filename = _base_name(upload.filename)
    parsed = parse_upload(cast(BinaryIO, stream), filename, max_bytes=config.max_bytes)
    rows = parsed.count_rows()
    stream.seek(start)
    content = stream.read()
    now = uow.now()
    job = {
        "id": str(uuid.uuid4()),
        "account_id": upload.account_id,
        "requested_by": upload.requested_by,
        "filename": filename,
        "size": len(content),
        "dry_run": upload.dry_run,
        "status": JobStatus.QUEUED.value,
        "rows": rows,
        "batch_size": config.batch_size,
        "dispatched": False,
        "created_at": now,
        "touched_at": now,
    }
    with uow:
        repo.add_job(uow.session, job, content)
        signal.notify_at_commit(uow.session)
        uow.commit()
    signal.wake()
    return {
        "id": job["id"],
        "account_id": upload.account_id,
        "status": job["status"],
        "rows": rows,
        "dry_run": upload.dry_run,
        "filename": filename,
    }


def _base_name(filename: str | None) -> str:
    """The file's own name, without any folder a browser may send; at most 255 characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[-255:] if name else "import.csv"


def _rewindable(stream: BinaryIO | IO[bytes], max_bytes: int) -> BinaryIO | IO[bytes]:
    """The stream itself when it can be rewound, else a spooled copy (refused over the cap)."""
    try:
        if stream.seekable():
            return stream
    except (AttributeError, ValueError, OSError):
        pass
    copy = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - returned
    shutil.copyfileobj(_capped(stream, max_bytes), copy)
    copy.seek(0)
    return copy


class _capped:  # noqa: N801 - a tiny file-like wrapper
    """Reads `stream`, raising FileRejected as soon as more than `limit` bytes came."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.limit, self.total = stream, limit, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.total += len(chunk)
        if self.total > self.limit:
            raise FileRejected(
                "too_large",
                _l(
                    "The file is larger than {megabytes} MB, the most that can be imported at"
                    " once.",
                    megabytes=format(self.limit / (1024 * 1024), "g"),
                ),
                _l("Split it into several files and import them one after the other."),
            )
        return chunk
