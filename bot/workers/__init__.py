"""Background workers of the gateway: the dispatcher (to Rasa) and the outbox (to platforms)."""
