"""The fixed messages of the libraries that check request bodies (marshmallow, webargs), marked
so that `make messages` puts them in the bus catalog: a problem's `errors` holding one of them is
translated like any message of ours (bus.i18n.localise looks plain strings up by msgid).

Messages the libraries fill with values (lengths, ranges, choices) are not listed: each part
gives its validators an `error=` message of its own where a person may meet them.
"""

from bus.i18n import _l

MARSHMALLOW = (
    _l("Missing data for required field."),
    _l("Field may not be null."),
    _l("Unknown field."),
    _l("Invalid input type."),
    _l("Invalid value."),
    _l("Not a valid string."),
    _l("Not a valid integer."),
    _l("Not a valid number."),
    _l("Not a valid boolean."),
    _l("Not a valid date."),
    _l("Not a valid datetime."),
    _l("Not a valid time."),
    _l("Not a valid email address."),
    _l("Not a valid URL."),
    _l("Not a valid UUID."),
    _l("Not a valid list."),
    _l("Not a valid tuple."),
    _l("Not a valid mapping type."),
    _l("Shorter than minimum length {min}."),
    _l("Longer than maximum length {max}."),
    _l("Length must be between {min} and {max}."),
    _l("Must be one of: {choices}."),
    _l("String does not match expected pattern."),
    _l("Must be greater than or equal to {min}."),
    _l("Must be less than or equal to {max}."),
    _l("Must be greater than or equal to {min} and less than or equal to {max}."),
)
