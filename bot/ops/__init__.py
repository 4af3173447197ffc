"""The only code that writes state. ``do_*`` run inside the caller's transaction.

Callers open the transaction (``async with session.begin():``) so that one webhook, one
dispatcher turn or one send is one atomic change.
"""
