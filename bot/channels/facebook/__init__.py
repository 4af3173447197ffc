"""The Facebook channel: Messenger messages to a Page, received on a signed webhook.

``verify`` checks the webhook handshake and the ``X-Hub-Signature-256`` header; ``parse`` turns
a webhook delivery into the channel-neutral events of ``bot.channels.base``.
"""

CHANNEL = "facebook"
