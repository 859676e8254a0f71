"""Messages produced by the gateway's operator API, and the bus's own probe."""

from bus.contracts import register
from bus.contracts.base import Contract, fields, v, validate


@register("content.published")
class ContentPublished(Contract):
    kind = fields.String(required=True, validate=validate.OneOf(v.CONTENT_KINDS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    url = fields.Url(required=True)


@register("bus.probe")
class Probe(Contract):
    """A test message: carries a sequence number and a key for checkers and benchmarks."""

    key = fields.String(required=True)
    seq = fields.Integer(required=True)
    fail = fields.Boolean(load_default=False)
