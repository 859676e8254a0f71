"""Rows in, domain records out: the projection (accounts, users, holdings), the outgoing queue
and the built-in mailbox of the notifications database.

The event handlers call it with their unit of work's session; the delivery loop and the
retention sweep, which run outside any message, with the part's engine (a transaction per call).
Instants come back UTC-aware (SQLite hands them back without their zone; they were written in UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bus.clock import as_utc
from bus.db import Pool, make_engine, upsert
from bus.pagination import Page
from bus.retention import delete_in_batches
from services.notifications.domain.records import (
    PENDING,
    Account,
    Administrator,
    Delivery,
    Holding,
    KeptMail,
    Outcomes,
    OutgoingMail,
    QueuedMail,
    Sent,
    User,
)

from .orm import accounts, held_services, mailbox, outgoing, recipients

# A row whose e-mail went out (or never will) keeps its delivery record but not what the e-mail
# was made of: the context holds the one-time links (their raw tokens) and the attachments the
# import reports. The deliveries list never showed either.
SPENT: dict[str, Any] = {"context": {}, "attachments": None}


def _values(record: Any) -> dict[str, Any]:
    """A record's fields as column values (shallow: a context is not copied)."""
    return {field.name: getattr(record, field.name) for field in fields(record)}


# -- the projection ------------------------------------------------------------------------------


def save_account(session: Session, account: Account) -> None:
    upsert(session, accounts, _values(account))


def account_name(session: Session, account_id: str | None) -> str | None:
    if not account_id:
        return None
    return session.execute(
        sa.select(accounts.c.name).where(accounts.c.id == account_id)
    ).scalar_one_or_none()


def _user(row: Any) -> User:
    return User(
        user_id=row.user_id,
        account_id=row.account_id,
        status=row.status,
        email=row.email,
        title=row.title,
        first_name=row.first_name,
        last_name=row.last_name,
        full_name=row.full_name,
        language=row.language,
    )


def get_user(session: Session, user_id: str | None) -> User | None:
    """The user (or their tombstone), or None when we never heard of them."""
    if not user_id:
        return None
    row = session.execute(sa.select(recipients).where(recipients.c.user_id == user_id)).first()
    return _user(row) if row else None


def save_user(session: Session, user: User, now: datetime) -> None:
    """Insert or update the user's row, every field."""
    upsert(session, recipients, {**_values(user), "updated_at": now}, keys=("user_id",))


def save_users(session: Session, users: list[User], now: datetime) -> None:
    """save_user of many users in one multi-row statement; a tombstone (status "deleted") stays
    as it is: a late event must not bring a deleted user back."""
    if not users:
        return
    rows = [{**_values(user), "updated_at": now} for user in users]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(recipients)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id"],
        set_={name: statement.excluded[name] for name in rows[0] if name != "user_id"},
        where=recipients.c.status != "deleted",
    )
    session.execute(statement, rows)


def add_user(session: Session, user: User, now: datetime) -> None:
    """Insert a user known only from a subscription event (identity's events will say more)."""
    session.execute(recipients.insert().values(**_values(user), updated_at=now))


def forget_user(session: Session, user_id: str, account_id: str, now: datetime) -> None:
    """Keep a tombstone without personal data (the language stays); their holdings go."""
    values = {
        "user_id": user_id,
        "account_id": account_id,
        "status": "deleted",
        "email": None,
        "title": None,
        "first_name": None,
        "last_name": None,
        "full_name": None,
        "updated_at": now,
    }
    upsert(session, recipients, values, keys=("user_id",))
    session.execute(held_services.delete().where(held_services.c.user_id == user_id))


def change_email(session: Session, user_id: str, email: str | None, now: datetime) -> None:
    """The address to write to from now on (a tombstone stays as it is)."""
    session.execute(
        recipients.update()
        .where(recipients.c.user_id == user_id, recipients.c.status != "deleted")
        .values(email=email, updated_at=now)
    )


def get_holding(session: Session, subscription_id: str) -> Holding | None:
    row = session.execute(
        sa.select(held_services).where(held_services.c.subscription_id == subscription_id)
    ).first()
    if row is None:
        return None
    values = dict(row._mapping)
    return Holding(**{**values, "changed_at": as_utc(values["changed_at"])})


def save_holding(session: Session, holding: Holding) -> None:
    upsert(session, held_services, _values(holding), keys=("subscription_id",))


def _unexpired(today: date) -> sa.ColumnElement[bool]:
    return sa.or_(held_services.c.expires_on.is_(None), held_services.c.expires_on >= today)


def administrators(session: Session, account_id: str, today: date) -> list[Administrator]:
    """Who holds the account's administration service, or its supervision, today (by user id)."""
    rows = session.execute(
        sa.select(recipients, held_services.c.supervises)
        .join(held_services, held_services.c.user_id == recipients.c.user_id)
        .where(
            held_services.c.administers_account_id == account_id,
            held_services.c.status == "accepted",
            _unexpired(today),
        )
        .order_by(recipients.c.user_id)
    ).all()
    return [Administrator(_user(row), row.supervises) for row in rows]


def holders(session: Session, notifies: str, today: date) -> list[User]:
    """Who holds a service that notifies of this content kind today (by user id; may repeat)."""
    rows = session.execute(
        sa.select(recipients)
        .join(held_services, held_services.c.user_id == recipients.c.user_id)
        .where(
            held_services.c.notifies == notifies,
            held_services.c.status == "accepted",
            _unexpired(today),
        )
        .order_by(recipients.c.user_id)
    ).all()
    return [_user(row) for row in rows]


# -- the outgoing queue --------------------------------------------------------------------------


def queue_mails(session: Session, mails: Iterable[QueuedMail], now: datetime) -> None:
    """Insert one queued row per e-mail; a row already there (same event, recipient and
    template) is kept as it is."""
    rows = [
        {
            **_values(mail),
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for mail in mails
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(outgoing).on_conflict_do_nothing(
        index_elements=["event_id", "recipient", "template"]
    )
    session.execute(statement, rows)


def queue_failed(session: Session, mails: Iterable[QueuedMail], now: datetime, reason: str) -> None:
    """Keep e-mails that cannot be sent as failed deliveries saying why (nothing to claim);
    a row already there (same event, recipient and template) is kept as it is."""
    rows = [
        {
            **_values(mail),
            "status": "failed",
            "attempts": 0,
            "last_answer": reason,
            "next_attempt_at": now,
            "created_at": now,
        }
        for mail in mails
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(outgoing).on_conflict_do_nothing(
        index_elements=["event_id", "recipient", "template"]
    )
    session.execute(statement, rows)


def claim_due(
    engine: sa.Engine, now: datetime, limit: int, token: str, lease_until: datetime
) -> list[OutgoingMail]:
    """Take up to `limit` due rows for the claim `token` until `lease_until`, oldest due first.

    SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL: loops of several replicas share the queue
    and never claim the same row.
    """
    if engine.dialect.name == "postgresql":
        return _claim_on_driver(engine, now, limit, token, lease_until)
    with engine.begin() as conn:
        rows = list(
            conn.execute(
                sa.select(
                    outgoing.c.id,
                    outgoing.c.event_id,
                    outgoing.c.template,
                    outgoing.c.recipient,
                    outgoing.c.language,
                    outgoing.c.context,
                    outgoing.c.attachments,
                    outgoing.c.attempts,
                    outgoing.c.next_attempt_at,
                )
                .where(outgoing.c.status.in_(PENDING), outgoing.c.next_attempt_at <= now)
                .order_by(outgoing.c.next_attempt_at, outgoing.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if rows:
            conn.execute(
                outgoing.update()
                .where(outgoing.c.id.in_([row.id for row in rows]))
                .values(status="sending", claimed_by=token, next_attempt_at=lease_until)
            )
    return [OutgoingMail(**row._mapping) for row in rows]


# claim_due's two statements as one for PostgreSQL, run on the driver with a prepared statement:
# a round trip and a commit per claim, and no SQLAlchemy row processing (a third of the CPU per
# claimed row). The rows come back in no order: sorted as claim_due's SELECT orders them.
_CLAIM_SQL = (
    "WITH due AS ("
    " SELECT id, next_attempt_at FROM outgoing"
    " WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= %(now)s"
    " ORDER BY next_attempt_at, id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
    " UPDATE outgoing SET status = 'sending', claimed_by = %(token)s,"
    " next_attempt_at = %(lease_until)s"
    " FROM due WHERE outgoing.id = due.id"
    " RETURNING outgoing.id, outgoing.event_id, outgoing.template, outgoing.recipient,"
    " outgoing.language, outgoing.context, outgoing.attachments, outgoing.attempts,"
    " due.next_attempt_at"
)
assert set(PENDING) == {"queued", "retrying", "sending"}, "_CLAIM_SQL names the pending statuses"


def _claim_on_driver(
    engine: sa.Engine, now: datetime, limit: int, token: str, lease_until: datetime
) -> list[OutgoingMail]:
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None, "a checked-out connection has its driver connection"
        with driver.cursor() as cursor:
            cursor.execute(
                _CLAIM_SQL,
                {"now": now, "limit": limit, "token": token, "lease_until": lease_until},
                prepare=True,
            )
            rows = cursor.fetchall()
        raw.commit()
    except BaseException:
        raw.invalidate()
        raise
    finally:
        raw.close()
    rows.sort(key=lambda row: (row[8], row[0]))
    return [OutgoingMail(*row) for row in rows]


def marks_engine(engine: sa.Engine, size: int) -> sa.Engine:
    """The engine the SMTP connections mark their e-mails `sent` with. On PostgreSQL: a pool of
    its own, `size` connections whose commits do not wait for the disk (synchronous_commit off:
    a mark costs a round trip, not a flush). Only a crash of the database server can lose the
    last fraction of a second of marks (never a crash of the worker: the server has them), and
    those e-mails are sent again when their lease ends, with the same Message-ID, as the
    delivery loop already does for the one e-mail per connection a dead worker had not marked.
    Elsewhere, `engine` itself."""
    if engine.dialect.name != "postgresql":
        return engine
    # bus.db's engine: a connection the database dropped while idle is replaced at checkout
    return make_engine(
        engine.url.render_as_string(hide_password=False),
        pool=Pool(size=size, overflow=0),
        connect_args={"options": "-c synchronous_commit=off"},
    )


# The delivery loop's commonest statement (each SMTP connection marks every e-mail it sends):
# built once, not at every call.
_MARK_SENT = (
    outgoing.update()
    .where(outgoing.c.id == sa.bindparam("b_id"), outgoing.c.claimed_by == sa.bindparam("b_token"))
    .values(
        status="sent",
        sent_at=sa.bindparam("b_now"),
        attempts=outgoing.c.attempts + 1,
        subject=sa.bindparam("b_subject"),
        message_id=sa.bindparam("b_message_id"),
        last_answer=None,
        claimed_by=None,
        **SPENT,
    )
)


# _MARK_SENT as PostgreSQL reads it, run on the driver with a prepared statement: the mark of
# every e-mail costs a third of the CPU it took through SQLAlchemy's execute (about 90 µs, not
# 280). The columns are _MARK_SENT's (SPENT written out); tests/integration send over it.
_MARK_SENT_SQL = (
    "UPDATE outgoing SET status = 'sent', sent_at = %(b_now)s, attempts = attempts + 1,"
    " subject = %(b_subject)s, message_id = %(b_message_id)s, last_answer = NULL,"
    " claimed_by = NULL, context = '{}', attachments = NULL"
    " WHERE id = %(b_id)s AND claimed_by = %(b_token)s"
)


def _mark_on_driver(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    """Run _MARK_SENT_SQL for `rows`, each committed at once, on a pooled connection's driver
    (given back as it was taken: not in autocommit; invalidated if anything failed)."""
    raw = engine.raw_connection()
    driver = raw.driver_connection
    assert driver is not None, "a checked-out connection has its driver connection"
    try:
        driver.autocommit = True
        with driver.cursor() as cursor:
            for row in rows:
                cursor.execute(_MARK_SENT_SQL, row, prepare=True)
        driver.autocommit = False
    except BaseException:
        raw.invalidate()
        raise
    finally:
        raw.close()


class SentMarks:
    """Marks e-mails `sent` one at a time, each committed at once, for one SMTP connection's
    thread through a batch. On PostgreSQL the marks go over one driver connection of `engine`
    (marks_engine) taken at the first mark and kept until `close()`: a prepared statement in
    autocommit, no pool checkout per e-mail. Elsewhere each mark is `record_outcomes`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._on_driver = engine.dialect.name == "postgresql"
        self._raw: Any = None
        self._cursor: Any = None

    def mark(self, token: str, sent: Sent, now: datetime) -> None:
        """Write one e-mail's mark and commit it (raises what the database raised)."""
        if not self._on_driver:
            record_outcomes(self.engine, token, Outcomes(sent=[sent]), now)
            return
        if self._cursor is None:
            raw = self.engine.raw_connection()
            try:
                driver = raw.driver_connection
                assert driver is not None, "a checked-out connection has its driver connection"
                driver.autocommit = True
                self._cursor = driver.cursor()
            except BaseException:
                raw.invalidate()
                raw.close()
                raise
            self._raw = raw
        row = {
            "b_id": sent.id,
            "b_token": token,
            "b_now": now,
            "b_subject": sent.subject,
            "b_message_id": sent.message_id,
        }
        try:
            self._cursor.execute(_MARK_SENT_SQL, row, prepare=True)
        except BaseException:
            self._drop(invalidate=True)
            raise

    def close(self) -> None:
        """Give the connection back to the pool as it was taken (not in autocommit)."""
        self._drop(invalidate=False)

    def _drop(self, *, invalidate: bool) -> None:
        raw, cursor, self._raw, self._cursor = self._raw, self._cursor, None, None
        if raw is None:
            return
        try:
            if not invalidate:
                cursor.close()
                raw.driver_connection.autocommit = False
        except Exception:  # noqa: BLE001 - a connection that cannot be reset is not reused
            invalidate = True
        if invalidate:
            raw.invalidate()
        raw.close()


def record_outcomes(
    engine: sa.Engine,
    token: str,
    outcomes: Outcomes,
    now: datetime,
    *,
    lease_until: datetime | None = None,
) -> None:
    """Write a claim's outcomes (and its mailbox e-mails) in one transaction; with
    `lease_until`, the rest of the claim stays the claim's until then."""
    only_sent = not (outcomes.kept or outcomes.ended or outcomes.released or lease_until)
    if only_sent and outcomes.sent and engine.dialect.name == "postgresql":
        # an SMTP connection marking the e-mail it just sent: one statement, one round trip
        # (SQLite's engine begins its transactions itself: it takes the path below)
        _mark_on_driver(engine, _sent_values(token, outcomes, now))
        return
    mine = (outgoing.c.id == sa.bindparam("b_id"), outgoing.c.claimed_by == token)
    with engine.begin() as conn:
        if outcomes.kept:
            conn.execute(mailbox.insert(), [_kept_row(mail) for mail in outcomes.kept])
        if outcomes.sent:
            conn.execute(_MARK_SENT, _sent_values(token, outcomes, now))
        if outcomes.ended:
            conn.execute(
                outgoing.update()
                .where(*mine)
                .values(
                    status=sa.bindparam("b_status"),
                    attempts=outgoing.c.attempts + 1,
                    last_answer=sa.bindparam("b_answer"),
                    next_attempt_at=sa.bindparam("b_next"),
                    claimed_by=None,
                ),
                [
                    {
                        "b_id": end.id,
                        "b_status": end.status,
                        "b_answer": end.answer,
                        "b_next": end.next_attempt_at,
                    }
                    for end in outcomes.ended
                ],
            )
            failed = [end.id for end in outcomes.ended if end.status == "failed"]
            if failed:
                conn.execute(outgoing.update().where(outgoing.c.id.in_(failed)).values(**SPENT))
        if outcomes.released:
            conn.execute(
                outgoing.update()
                .where(outgoing.c.id.in_(outcomes.released), outgoing.c.claimed_by == token)
                .values(
                    status=sa.case((outgoing.c.attempts > 0, "retrying"), else_="queued"),
                    next_attempt_at=now,
                    claimed_by=None,
                )
            )
        if lease_until is not None:
            conn.execute(
                outgoing.update()
                .where(outgoing.c.claimed_by == token, outgoing.c.status == "sending")
                .values(next_attempt_at=lease_until)
            )


def _sent_values(token: str, outcomes: Outcomes, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "b_id": sent.id,
            "b_token": token,
            "b_now": now,
            "b_subject": sent.subject,
            "b_message_id": sent.message_id,
        }
        for sent in outcomes.sent
    ]


def _kept_row(mail: KeptMail) -> dict[str, Any]:
    row = _values(mail)
    del row["id"]
    return row


def forget_mail_before(engine: sa.Engine, cutoff: datetime) -> dict[str, int]:
    """Delete sent or failed rows queued before `cutoff`, and mailbox e-mails sent before it (a
    few thousand rows per transaction); how many rows of each table went."""
    done = sa.and_(outgoing.c.status.not_in(PENDING), outgoing.c.created_at < cutoff)
    return {
        "outgoing": delete_in_batches(engine, outgoing, outgoing.c.id, done),
        "mailbox": delete_in_batches(engine, mailbox, mailbox.c.id, mailbox.c.sent_at < cutoff),
    }


# -- what the internal API reads -----------------------------------------------------------------


def mailbox_page(session: Session, page: Page, to: str | None = None) -> dict[str, Any]:
    """{items: [KeptMail without text, html or attachments], page, per_page, total}, newest
    first; `to` keeps those sent to that address (any case)."""
    query = sa.select(
        mailbox.c.id, mailbox.c.recipient, mailbox.c.subject, mailbox.c.sent_at
    ).order_by(mailbox.c.id.desc())
    if to and to.strip():
        query = query.where(sa.func.lower(mailbox.c.recipient) == to.strip().lower())
    return page.answer(session, query, _kept_summary)


def _kept_summary(row: Any) -> KeptMail:
    return KeptMail(
        id=row.id, recipient=row.recipient, subject=row.subject, sent_at=as_utc(row.sent_at)
    )


def get_kept_mail(session: Session, mail_id: int) -> KeptMail | None:
    row = session.execute(sa.select(mailbox).where(mailbox.c.id == mail_id)).first()
    if row is None:
        return None
    return KeptMail(
        id=row.id,
        outgoing_id=row.outgoing_id,
        message_id=row.message_id,
        recipient=row.recipient,
        subject=row.subject,
        text=row.text,
        html=row.html,
        attachments=row.attachments,
        sent_at=as_utc(row.sent_at),
    )


def kept_attachments(session: Session, mail_id: int) -> list[dict[str, str]]:
    """The attachments of a mailbox e-mail; none when it has none or does not exist."""
    return (
        session.execute(
            sa.select(mailbox.c.attachments).where(mailbox.c.id == mail_id)
        ).scalar_one_or_none()
        or []
    )


def deliveries_page(session: Session, page: Page, status: str | None = None) -> dict[str, Any]:
    """{items: [Delivery], page, per_page, total}, newest first; `status` keeps those in it."""
    query = sa.select(
        *(
            column
            for column in outgoing.c
            if column.name not in ("context", "attachments", "claimed_by")
        )
    ).order_by(outgoing.c.id.desc())
    if status:
        query = query.where(outgoing.c.status == status)
    return page.answer(session, query, _delivery)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        template=row.template,
        recipient=row.recipient,
        user_id=row.user_id,
        language=row.language,
        status=row.status,
        attempts=row.attempts,
        last_answer=row.last_answer,
        next_attempt_at=as_utc(row.next_attempt_at),
        subject=row.subject,
        message_id=row.message_id,
        created_at=as_utc(row.created_at),
        sent_at=as_utc(row.sent_at),
    )
