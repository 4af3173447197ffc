"""The staff console: sign-in, the queue, conversations, FAQ and reports, under ``/console``."""
