"""`wikiart serve`: the Gradio app over the trained models (extra ``app``).

`models` finds what to serve (flags or a run folder), `tabs` does each tab's work in plain
Python (`Server`), `gallery` and `gallery_map` hold the gallery's cached embeddings and map,
and `app` lays the tabs out in Gradio and launches them safely."""

from wikiart.lazy import lazy_exports

_EXPORTS = {
    "ServeSpec": "wikiart.serve.models",
    "Server": "wikiart.serve.tabs",
    "UploadError": "wikiart.serve.tabs",
    "find_models": "wikiart.serve.models",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
