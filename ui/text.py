"""Text from users and files shown through Streamlit's Markdown, inert."""

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=])")


def inert(text: object) -> str:
    """Backslash-escape Markdown punctuation so a value shows as typed: no links, no formatting,
    no emoji shortcodes or colour directives from a CSV cell or a form field."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
