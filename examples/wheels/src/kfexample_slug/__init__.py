"""kfexample-slug: URL slugs from titles. The example app's own tiny dependency (pure Python), kept
as a wheel beside its source (examples/wheels) so the example synthesizes without a package index."""
import re
import unicodedata

__version__ = "1.0"

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text, max_length=80):
    """'Grüße aus Köln!' -> 'grusse-aus-koln': ASCII letters and digits joined by single dashes."""
    # casefold first: "ß" becomes "ss"; NFKD then splits "ö" into "o" and a mark, which is dropped.
    folded = unicodedata.normalize("NFKD", text.casefold())
    slug = _NOT_WORD.sub("-", folded.encode("ascii", "ignore").decode("ascii")).strip("-")
    return slug[:max_length].rstrip("-")
