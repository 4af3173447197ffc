"""Deadline warnings delivered outside the console: e-mail over SMTP and a generic webhook."""
