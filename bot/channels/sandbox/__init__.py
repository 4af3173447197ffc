"""The sandbox channel: a web chat at /chat for trying the bot without a Facebook Page.

It goes through the same inbox, dispatcher and outbox as the real channels; "sending" a reply
marks it delivered, and the chat page reads delivered replies from the API.
"""

CHANNEL = "sandbox"
