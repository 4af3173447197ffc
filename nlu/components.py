"""Rasa components for Vietnamese. Imports only the standard library, Rasa and ``nlu``."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from nlu.normalize import WORD_RE, normalize_words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(WhitespaceTokenizer):
    """Normalizes Vietnamese text (NFC, lower case, no diacritics, abbreviations) and tokenizes.

    Each token keeps the character span of the word it came from in the original text, so an
    abbreviation that expands to several words gives several tokens over the same span.
    """

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokenize the normalized form of ``attribute``."""
        text = message.get(attribute) or ""
        tokens: list[Token] = []
        for match in WORD_RE.finditer(text):
            for word in normalize_words(match.group()):
                tokens.append(Token(word, match.start(), match.end()))
        if not tokens:
            return super().tokenize(message, attribute)
        return self._apply_token_pattern(tokens)
