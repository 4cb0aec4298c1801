"""`wikiart serve`: the Gradio app over the trained models (extra ``app``).

`models` finds what to serve (flags or a run folder), `tabs` does each tab's work in plain
Python (`Server`), `gallery` and `gallery_map` hold the gallery's cached embeddings and map,
and `app` lays the tabs out in Gradio and launches them safely."""

from wikiart.serve.models import ServeSpec, find_models
from wikiart.serve.tabs import Server, UploadError

__all__ = ["ServeSpec", "Server", "UploadError", "find_models"]
