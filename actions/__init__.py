"""Custom Rasa actions (rasa-sdk): answer from the FAQ store, clarify, hand over."""
