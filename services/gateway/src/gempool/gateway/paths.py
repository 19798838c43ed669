"""Upstream paths are built only from segments shaped like Google's own.

A model name, method or file id from a client becomes part of the upstream URL. Starlette hands
routes the percent-decoded path, so ``..%2F``, ``%2e%2e`` or ``%3F`` arrive as ``../``, ``..`` and
``?``; and the upstream client normalises ``..`` away. A name that could climb out of its segment
(``models/../files``) would reach another upstream resource with a pool key. So each segment must
match what Google accepts there, before any key is leased, and :func:`clean` checks the whole
upstream path once more in the pipeline, for any route that forgot.
"""

import re

from starlette.responses import Response

from gempool.gateway.errors import Dialect, error_response

# Google's model ids: letters, digits, ``-``, ``.``, ``_`` (Vertex publisher models add ``@``);
# the first character is a letter or digit, so ``.`` and ``..`` can never be one.
MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
METHOD = re.compile(r"[A-Za-z]{1,64}")
# ``files/{id}``: lowercase letters, digits and dashes (Google's File.name).
FILE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
# A whole upstream path below the API root: plain segments only (no ``.``/``..``, ``%``, ``?``,
# ``#``, ``\``, spaces or empty segments).
_PATH = re.compile(r"(?:/[A-Za-z0-9_@:-][A-Za-z0-9._@:-]*)+")


def model_ok(name: str) -> bool:
    return MODEL.fullmatch(name) is not None


def method_ok(method: str) -> bool:
    return METHOD.fullmatch(method) is not None


def file_ok(file_id: str) -> bool:
    return FILE_ID.fullmatch(file_id) is not None


def clean(path: str) -> bool:
    """True when ``path`` (``/v1beta/models/m:generateContent``) stays where it says it goes."""
    return _PATH.fullmatch(path) is not None


def bad_model(dialect: Dialect, name: str, method: str | None = None) -> Response | None:
    """The client's error for a model name (and method) Google would not accept; None when fine."""
    if not model_ok(name):
        shown = name if len(name) <= 100 else name[:100] + "..."
        message = (
            f"Invalid model name {shown!r}: a model id holds only letters, digits, '-', '.', '_' "
            "and '@', and starts with a letter or digit."
        )
        return error_response(dialect, 400, message, param="model" if dialect is Dialect.OPENAI else None)
    if method is not None and not method_ok(method):
        return error_response(dialect, 400, f"Invalid method {method[:100]!r}: expected letters only.")
    return None


def bad_file(file_id: str) -> Response | None:
    if file_ok(file_id):
        return None
    message = f"Invalid file name 'files/{file_id[:100]}': expected lowercase letters, digits and '-'."
    return error_response(Dialect.GEMINI, 400, message)


def unclean(dialect: Dialect) -> Response:
    return error_response(dialect, 400, "The request names an upstream path gempool does not allow.")
