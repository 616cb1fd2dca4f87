"""kfexample-slug: URL slugs from titles. The example app's own tiny dependency (pure Python), kept
as a wheel beside its source (examples/wheels) so the example synthesizes without a package index."""
import re
import unicodedata

__version__ = "1.0"

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text, max_length=80):
    """'Grüße aus Köln!' -> 'grusse-aus-koln': ASCII letters and digits joined by single dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_WORD.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-")
