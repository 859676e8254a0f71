"""Words every part agrees on: titles, languages, password levels, service families, statuses.

These are part of the message contracts, so they live in bus/ and change like a public API.
"""

TITLES = ("M", "MME", "MLE")

# Language tags a user may choose; the first is the fallback for e-mails and pages.
LANGUAGES = (
    "en-US",
    "en-GB",
    "fr-FR",
    "fr-BE",
    "fr-CH",
    "fr-CA",
    "de-DE",
    "es-ES",
    "it-IT",
    "nl-NL",
)

PASSWORD_LEVELS = (1, 2, 3)
PASSWORD_LEVEL_NAMES = {1: "weak", 2: "moderate", 3: "strong"}

USER_STATUSES = ("pending_activation", "active", "locked", "no_email", "deactivated")

FAMILIES = (
    "administrative",
    "community",
    "information_flow",
    "management",
    "product_information",
    "notifications",
    "preferences",
    "online_services",
    "support",
)

SUBSCRIPTION_STATUSES = ("pending", "accepted", "refused", "cancelled", "expired")

RELATIONS = ("subsidiary", "shop", "indirect_customer", "site")

USER_SOURCES = ("operator", "admin", "import", "scim")

LINK_PURPOSES = ("activation", "reset", "email_change")

CONTENT_KINDS = (
    "faq",
    "events",
    "updates",
    "help",
    "product_information",
    "general_information",
    "partner_information",
)
