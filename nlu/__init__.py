"""Language understanding shared by Rasa (custom component) and the project (decision rules).

Modules here import only the standard library, PyYAML and, for ``components``, Rasa, so that
both virtual environments can use them.
"""
