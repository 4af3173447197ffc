"""Developer commands: set-up, training, running the stack (see README)."""
