"""Tables of the importer service (its own database; nobody else reads it)."""

import sqlalchemy as sa

from bus.db import bus_tables

metadata = sa.MetaData()
outbox, processed = bus_tables(metadata)

UTC_INSTANT = sa.DateTime(timezone=True)

# One row per upload. `rows` is the number of data lines counted at upload; `processed`,
# `created`, `rejected` (and `would_create` for a dry run) grow while the job runs.
# `dispatched` says that every batch is recorded (the file was read to its end), and
# `batches`/`batches_answered` how many of them identity has answered; the job is done when
# both are true of every batch. `touched_at` is the last sign of life (a batch recorded or
# answered), to fail a job whose answers never come. `lease_owner`/`lease_expires_at` say which runner works on the
# file; a lease that expired (its runner died) lets another runner take the job over.
import_jobs = sa.Table(
    "import_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(64), nullable=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows", sa.Integer(), nullable=False),
    sa.Column("processed", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("would_create", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("batch_size", sa.Integer(), nullable=False),
    sa.Column("dispatched", sa.Boolean(), nullable=False),
    sa.Column("batches", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("batches_answered", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", UTC_INSTANT, nullable=True),
    sa.Column("reason", sa.Text(), nullable=True),
    # A failed job's reason: `reason` in English, its stable code, its params and its text in
    # every language the portal speaks ({"en": ..., "fr": ...}); NULL on a job that failed
    # before they existed (migration 0003): its English reason is shown, code import.failed.
    sa.Column("reason_code", sa.String(64), nullable=True),
    sa.Column("reason_params", sa.JSON(), nullable=True),
    sa.Column("reason_messages", sa.JSON(), nullable=True),
    sa.Column("created_at", UTC_INSTANT, nullable=False),
    sa.Column("started_at", UTC_INSTANT, nullable=True),
    sa.Column("finished_at", UTC_INSTANT, nullable=True),
    sa.Column("touched_at", UTC_INSTANT, nullable=False),
    sa.Index("ix_import_jobs_account", "account_id", "created_at"),
    sa.Index("ix_import_jobs_status", "status"),
)

# The uploaded bytes, apart from the job so that reading a job never loads its file. Kept in
# the database so that any replica's runner can read them.
import_files = sa.Table(
    "import_files",
    metadata,
    sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("import_jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("content", sa.LargeBinary(), nullable=False),
)

# Each batch of valid rows sent to identity (one identity.create_users command), and the span
# of file lines it covers (with the invalid lines found among them). Recorded in the same
# transaction as its command and its line anomalies: a resumed job skips what is recorded.
import_batches = sa.Table(
    "import_batches",
    metadata,
    sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("import_jobs.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("batch", sa.Integer(), primary_key=True),
    sa.Column("first_line", sa.Integer(), nullable=False),
    sa.Column("last_line", sa.Integer(), nullable=False),
    sa.Column("sent_rows", sa.Integer(), nullable=False),
    sa.Column("message_id", sa.String(36), nullable=True),
    sa.Column("recorded_at", UTC_INSTANT, nullable=False),
    sa.Column("answered_at", UTC_INSTANT, nullable=True),
    sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
)

# Every anomaly of a job, found in the file by the importer or reported by identity.
# `rank` orders the anomalies of one line as the file's columns (the whole line last).
# `message` is the English text; `code` (stable), `params` and `messages` (the text in every
# language the portal speaks, {"en": ..., "fr": ...}) are NULL on rows written before they
# existed (migration 0002): those are shown in English.
import_anomalies = sa.Table(
    "import_anomalies",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("import_jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("line", sa.Integer(), nullable=False),
    sa.Column("rank", sa.Integer(), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("params", sa.JSON(), nullable=True),
    sa.Column("messages", sa.JSON(), nullable=True),
    sa.Index("ix_import_anomalies_job_line", "job_id", "line", "rank"),
)
