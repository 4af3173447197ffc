"""Pure helpers: no I/O, no database."""
