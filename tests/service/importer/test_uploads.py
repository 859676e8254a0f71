"""POST /internal/accounts/{account_id}/imports: 202 with a queued job, or 422/413 at once."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from services.importer.adapters.orm import import_files, import_jobs
from tests.service.importer.conftest import (
    ADMIN,
    CORPUS,
    EXPECTED,
    Api,
    csv_bytes,
    outbox_messages,
    user_lines,
)

FILE_ERRORS = sorted(name for name, outcome in EXPECTED.items() if "file_error" in outcome)
ACCEPTED = sorted(name for name, outcome in EXPECTED.items() if "file_error" not in outcome)


def stored_jobs(part) -> list:
    with part.engine.connect() as conn:
        return conn.execute(sa.select(import_jobs)).all()


def test_a_valid_file_is_queued_and_stored(api, part, account) -> None:
    content = csv_bytes(user_lines(3))

    response = api.upload(account, content, filename="team.csv")

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued" and body["rows"] == 3 and body["dry_run"] is False
    assert body["filename"] == "team.csv" and body["account_id"] == account
    [job] = stored_jobs(part)
    assert (job.id, job.requested_by, job.size, job.processed) == (
        body["id"],
        ADMIN,
        len(content),
        0,
    )
    with part.engine.connect() as conn:
        assert conn.execute(sa.select(import_files.c.content)).scalar_one() == content
    assert outbox_messages(part, "identity.create_users") == []  # nothing sent before a runner


def test_the_upload_wakes_the_runners(api, part, account) -> None:
    part.signal.event.clear()
    api.upload(account, csv_bytes(user_lines(1)))
    assert part.signal.event.is_set()


@pytest.mark.parametrize("name", FILE_ERRORS)
def test_a_file_level_error_answers_422_and_stores_nothing(api, part, account, name) -> None:
    content = (CORPUS / name).read_bytes()

    response = api.upload(account, content, filename=name)

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert EXPECTED[name]["file_error"] in problem["detail"]
    assert problem["errors"]["file"] and all(problem["errors"]["file"])
    assert problem["code"]
    assert stored_jobs(part) == []


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_other_corpus_file_is_accepted_with_its_row_count(api, account, name) -> None:
    response = api.upload(account, (CORPUS / name).read_bytes(), filename=name)
    assert response.status_code == 202
    assert response.get_json()["rows"] == EXPECTED[name]["rows"]


def test_a_body_over_the_cap_is_refused_before_it_is_read(make_part, account) -> None:
    api = Api(make_part(PORTICO_IMPORT_MAX_BYTES=1000))
    content = csv_bytes(user_lines(2000))  # ~140 KB: over the cap and the multipart slack

    response = api.upload(account, content)

    assert response.status_code == 413
    problem = response.get_json()
    assert problem["code"] == "too_large" and "Split it" in problem["detail"]
    assert stored_jobs(api.part) == []


def test_a_file_just_over_the_cap_is_a_file_level_error(make_part, account) -> None:
    api = Api(make_part(PORTICO_IMPORT_MAX_BYTES=1000))
    content = csv_bytes(user_lines(30))[:1100]  # under cap + multipart slack, over the cap

    response = api.upload(account, content)

    assert response.status_code == 422
    assert response.get_json()["code"] == "too_large"
    assert "at most 1000 bytes" in response.get_json()["detail"]


def test_the_default_cap_is_20_mb(part) -> None:
    assert part.config.max_bytes == 20 * 1024 * 1024


def test_a_missing_file_field_is_422(api, account) -> None:
    response = api.client.post(
        f"/internal/accounts/{account}/imports",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers=api.headers(),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["Missing file."]}


def test_dry_run_must_be_a_boolean(api, account) -> None:
    response = api.upload(account, csv_bytes(user_lines(1)), dry_run="perhaps")
    assert response.status_code == 422
    assert "dry_run" in response.get_json()["errors"]


def test_a_dry_run_is_queued_as_such(api, part, account) -> None:
    response = api.upload(account, csv_bytes(user_lines(2)), dry_run=True)
    assert response.status_code == 202 and response.get_json()["dry_run"] is True
    assert stored_jobs(part)[0].dry_run is True


def test_the_service_token_is_required(api, account) -> None:
    response = api.client.post(f"/internal/accounts/{account}/imports")
    assert response.status_code == 401


def test_a_valid_file_of_a_million_rows_is_refused_by_the_cap(api, part, account, tmp_path) -> None:
    path = tmp_path / "million.csv"
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, 1_000_000, 10_000):
            out.write("".join(line + "\n" for line in user_lines(10_000, start=start)))
    assert path.stat().st_size > part.config.max_bytes

    with path.open("rb") as stream:
        response = api.client.post(
            f"/internal/accounts/{account}/imports",
            data={"file": (stream, "million.csv")},
            content_type="multipart/form-data",
            headers=api.headers(),
        )

    assert response.status_code == 413
    assert "Split it into several files" in response.get_json()["detail"]
    assert stored_jobs(part) == []


class OneWayStream(io.RawIOBase):
    """A stream that cannot be rewound (as some WSGI servers hand uploads over)."""

    def __init__(self, content: bytes) -> None:
        super().__init__()
        self._source = io.BytesIO(content)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._source.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_be_rewound_is_copied_first(make_part, account) -> None:
    from services.importer.domain import FileRejected
    from services.importer.service_layer.uploads import Upload, create_import_job

    part = make_part(PORTICO_IMPORT_MAX_BYTES=2000)
    content = csv_bytes(user_lines(3))
    job = create_import_job(
        part.uow(), part.signal, Upload(account, None, "a.csv", OneWayStream(content))
    )
    assert job["rows"] == 3
    with part.engine.connect() as conn:
        assert conn.execute(sa.select(import_files.c.content)).scalar_one() == content

    with pytest.raises(FileRejected) as refused:
        create_import_job(
            part.uow(),
            part.signal,
            Upload(account, None, "b.csv", OneWayStream(csv_bytes(user_lines(100)))),
        )
    assert refused.value.code == "too_large"
