"""Identity's handlers, one function per command or event (verb_noun), its unit of work, and the
refusals the entry points turn into problem+json."""
