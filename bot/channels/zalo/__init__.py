"""The Zalo channel: messages to a Zalo Official Account, received on a signed webhook.

``verify`` checks the ``X-ZEvent-Signature`` header and the event's age; ``parse`` turns a
webhook delivery (one event per request) into the channel-neutral events of
``bot.channels.base``; ``window`` says when the OA may still reply.
"""

CHANNEL = "zalo"
