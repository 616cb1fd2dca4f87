"""The example's Python function with a dependency (a PythonFunction): requirements.txt names
kfexample-slug, which is resolved into a wheel at synth and travels in the code ConfigMap beside this
file; the runtime puts it on sys.path. No image build, no package index in the pod.

GET /slug?title=... or POST /slug with the title as the body answers {"slug": "..."}.
"""
from kfexample_slug import slugify

from kubefaas import HttpError


def main(event, context):
    title = event.text() if event.method == "POST" else event.query.get("title", "")
    if not isinstance(title, str) or not title.strip():
        raise HttpError(400, "give a title: GET /slug?title=... or POST it as the body")
    slug = slugify(title)
    context.log.info("slug", extra={"length": len(slug)})
    return {"slug": slug}
