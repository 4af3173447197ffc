"""The gateway: channels, durable inbox and outbox, dispatcher to Rasa, reply ledger, consoles."""
