"""Encrypting secrets stored in the database (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class SecretBoxError(ValueError):
    """A missing or wrong key, or a value that was not encrypted with it."""


class SecretBox:
    """Encrypts and decrypts short strings with the deployment's key (``TOKEN_ENCRYPTION_KEY``)."""

    def __init__(self, key: str) -> None:
        """``key``: a Fernet key (``Fernet.generate_key()``, 44 url-safe base64 characters)."""
        try:
            self._fernet = Fernet(key.encode())
        except ValueError as exc:
            raise SecretBoxError("TOKEN_ENCRYPTION_KEY is not a valid Fernet key") from exc

    def seal(self, value: str) -> str:
        """The encrypted form of ``value``."""
        return self._fernet.encrypt(value.encode()).decode() if value else ""

    def open(self, sealed: str) -> str:
        """The plain value of ``sealed``."""
        if not sealed:
            return ""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("stored secret does not open with TOKEN_ENCRYPTION_KEY") from exc
