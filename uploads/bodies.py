"""Request bodies sent in chunks (`Transfer-Encoding: chunked`, no Content-Length).

Django's request stream reads such a body as empty. It is read from the server's input
instead, up to its end, when the server decodes the chunks and ends the input there
(gunicorn does, and says so with `wsgi.input_terminated`). A server that does not would
leave the read waiting for data that never comes: the caller is asked for a length (411).
"""


class LengthRequired(Exception):
    """A chunked body this server cannot read to its end."""

    message = "Send a Content-Length: this server reads no chunked bodies."


def is_chunked(meta):
    return not meta.get("CONTENT_LENGTH") and "chunked" in (
        meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def chunked_input(meta):
    """The server's input, to read a chunked body from; LengthRequired if it never ends."""
    if not meta.get("wsgi.input_terminated"):
        raise LengthRequired
    return meta["wsgi.input"]
