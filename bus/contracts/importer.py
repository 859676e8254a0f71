"""Messages produced by the importer service."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, optional_id, required_id, validate

IMPORT_STATUSES = ("done", "failed")


@register("importer.import.finished")
class ImportFinished(Contract):
    """An import job ended: its counts and anomalies, for the person who imported the file.

    `anomalies` lists at most the importer's PORTICO_IMPORT_EVENT_ANOMALIES first anomalies
    (by line); `anomalies_total` says how many there are, all of them at `report_url`. A dry
    run (`dry_run`) created nobody: `would_create` says how many users it would have created.
    A failed job says why in `reason`.

    Each anomaly is {line, field, message, code, params, messages}: `message` in English,
    `code` stable (import.*, validation.*; import.anomaly for one stored before codes),
    `params` its values, and `messages` the text in every language the portal speaks
    ({"en": ..., "fr": ...}) so that the e-mail is written in the recipient's. `messages` is
    missing on an anomaly stored before anomalies had languages: the English `message` is shown.

    A failed job's `reason` is in English; `reason_code` is stable (import.*; import.failed for
    a reason stored before codes), `reason_params` its values and `reason_messages` its text in
    every language ({"en": ..., "fr": ...}). All three are optional: an event published before
    them, or a job that failed before reasons had languages, has the English `reason` alone.
    """

    import_job_id = required_id()
    account_id = required_id()
    requested_by = optional_id()
    filename = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(IMPORT_STATUSES))
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    anomalies = fields.List(fields.Dict(), required=True)  # [{line, field, message, code, ...}]
    report_url = fields.String(load_default=None, allow_none=True)
    dry_run = fields.Boolean(load_default=False)
    processed = fields.Integer(load_default=None, allow_none=True)
    would_create = fields.Integer(load_default=None, allow_none=True)
    anomalies_total = fields.Integer(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)
    reason_code = fields.String(load_default=None, allow_none=True)
    reason_params = fields.Dict(load_default=None, allow_none=True)
    reason_messages = fields.Dict(load_default=None, allow_none=True)  # {"en": ..., "fr": ...}
