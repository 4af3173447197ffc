"""HTTP handlers: thin; they validate, call ``bot.ops`` in one transaction and answer."""
