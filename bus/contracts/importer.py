"""Messages produced by the importer service."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, optional_id, required_id


@register("importer.import.finished")
class ImportFinished(Contract):
    import_job_id = required_id()
    account_id = required_id()
    requested_by = optional_id()
    filename = fields.String(required=True)
    status = fields.String(required=True)
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    anomalies = fields.List(fields.Dict(), required=True)  # [{line, field, message}]
    report_url = fields.String(load_default=None, allow_none=True)
