"""Custom Rasa actions (rasa-sdk): answer from the FAQ store, clarify, hand over.

Importing the package puts the log privacy filter (``bot.lib.log_privacy``) on the action
server's log handlers: ``python -m rasa_sdk --actions actions`` configures logging first, then
imports this package, in its main process and in Sanic's worker process alike.
"""

import os

from bot.lib.log_privacy import install_for
from bot.settings import Settings

install_for(Settings.from_env(os.environ))
