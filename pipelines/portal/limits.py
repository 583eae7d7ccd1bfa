"""Request bodies refused at the door: a declared Content-Length over the limit is answered 413 before a byte of the
body is read, and a body sent without one (chunked) is cut off as soon as it passes the limit."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse

TOO_LARGE = ("The file is larger than {limit:,} bytes, the most a return may be (files.max_file_bytes in "
             "config/limits.yaml). Send a smaller file, or ask the central team to raise the limit.")


class BodyLimit:
    """ASGI middleware: bodies of at most `max_bytes` (plus room for the form around the file)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = PlainTextResponse(TOO_LARGE.format(limit=self.max_bytes), status_code=413,
                                         headers={"Connection": "close"})
            return await response(scope, receive, send)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # raised inside the endpoint's read of the body: the app's 413 page answers it
                raise HTTPException(413, TOO_LARGE.format(limit=self.max_bytes))
            return message

        await self.app(scope, limited, send)
