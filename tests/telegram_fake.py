"""A fake Telegram Bot API server for end-to-end tests.

``FakeTelegram`` is a real HTTP server on ``127.0.0.1`` (random free port), built only on the
standard library (``http.server.ThreadingHTTPServer`` in a background thread).  A real
python-telegram-bot ``Application`` talks to it through::

    fake = FakeTelegram().start()
    app = (
        Application.builder()
        .token("123:TEST")
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )

The server answers the Bot API methods a chatbot needs with realistic result objects, records
every call (:attr:`FakeTelegram.calls`), lets a test feed updates to long-polling
``getUpdates`` requests (:meth:`FakeTelegram.push_update` and the ``*_update`` builders), and
injects faults (HTTP 429 flood control, 403 blocked users, slow answers, dropped connections).

Requests are ``POST /bot<TOKEN>/<method>`` with a JSON, form-urlencoded (python-telegram-bot's
default for requests without files) or multipart/form-data (file uploads) body.  Values of
form fields are JSON-decoded the way Telegram does (``"123"`` -> ``123``, ``'{"a": 1}'`` ->
``{"a": 1}``), except for free-text fields such as ``text`` and ``caption`` which stay strings.
Uploaded files are recorded in :attr:`Call.files` (part name -> bytes) and
:attr:`Call.file_names`, not in :attr:`Call.params`.

Realism that may surprise (each can be relaxed through a constructor flag):

* ``parse_mode="HTML"`` text with unsupported/unbalanced tags (``<br>``, ``<p>``, an unclosed
  ``<b>``) and ``parse_mode="MarkdownV2"`` text with unescaped reserved characters
  (``.``, ``!``, ``-``, ...) are rejected with ``400 Bad Request: can't parse entities``, like
  the real API (``strict_formatting=False`` turns this off).
* Empty texts, texts longer than 4096 characters, captions longer than 1024 characters and
  ``callback_data`` longer than 64 bytes are rejected with 400, like the real API.
* ``getUpdates`` while a webhook is set answers ``409 Conflict``.
* Editing a message to identical content answers ``400 message is not modified`` only when
  ``strict_edits=True``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as _EmailMessage
from email.parser import BytesHeaderParser
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USER",
    "BOT_USERNAME",
    "Call",
    "FakeTelegram",
]

BOT_ID = 7000001
BOT_USERNAME = "sahut_test_bot"
BOT_FIRST_NAME = "Sahut"
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
}

#: Methods whose successful calls are returned by :meth:`FakeTelegram.sent` (they deliver a
#: message to a chat).  ``sendChatAction`` is deliberately not one of them.
MESSAGE_METHODS = frozenset(
    {
        "sendmessage",
        "sendphoto",
        "senddocument",
        "sendlocation",
        "copymessage",
        "forwardmessage",
    }
)
#: Methods whose text/caption is returned by :meth:`FakeTelegram.texts_to`.
TEXT_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})

#: Form fields that are free text: never JSON-decoded.
_RAW_STRING_FIELDS = frozenset(
    {
        "text",
        "caption",
        "data",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "parse_mode",
        "action",
        "emoji",
        "url",
        "secret_token",
        "ip_address",
        "language_code",
        "photo",
        "document",
        "sticker",
        "video",
        "audio",
        "voice",
        "animation",
        "thumbnail",
        "title",
        "address",
        "description",
        "short_description",
        "name",
        "question",
        "business_connection_id",
        "message_effect_id",
    }
)

_ALLOWED_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_MDV2_ALWAYS_RESERVED = frozenset("#+-={}.!")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")

_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_MAX_CALLBACK_DATA = 64


def _now() -> int:
    return int(time.time())


def _chat_key(value: Any) -> Any:
    """Normalise a chat id as received (``123``, ``"123"``, ``"@name"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        stripped = value.strip()
        try:
            return int(stripped)
        except ValueError:
            return stripped
    return value


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _command_entities(text: str | None) -> list[dict[str, Any]]:
    if not text:
        return []
    match = _COMMAND_RE.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}]


def _json_value(value: Any) -> Any:
    """Decode a JSON-encoded string value (``reply_markup`` may come as a string or a dict)."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _decode_form_value(key: str, value: str) -> Any:
    if key in _RAW_STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _as_float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _ApiError(Exception):
    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------------------------
# Formatting validation (HTML / MarkdownV2)
# --------------------------------------------------------------------------------------------


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.parts: list[str] = []
        self.error: str | None = None

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_HTML_TAGS:
            self._fail(f'Unsupported start tag "{tag}"')
            return
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._fail(f'Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail(f'Unexpected end tag "{tag}"')
            return
        if self.stack[-1] != tag:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1]}"')
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _parse_html(text: str, strict: bool) -> str:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if strict:
        if parser.error is None and parser.stack:
            parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        if parser.error is not None:
            raise _bad_request(f"can't parse entities: {parser.error}")
    return "".join(parser.parts)


def _check_markdown_v2(text: str) -> str:
    """Reject unescaped reserved characters like the real API; return the plain-ish text."""
    out: list[str] = []
    i = 0
    n = len(text)
    at_line_start = True
    while i < n:
        char = text[i]
        if char == "\\":
            if i + 1 < n:
                out.append(text[i + 1])
            i += 2
            at_line_start = False
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise _bad_request(
                    "can't parse entities: Can't find end of Pre entity at byte offset "
                    f"{len(text[:i].encode())}"
                )
            out.append(text[i + 3 : end])
            i = end + 3
            continue
        if char == "`":
            end = text.find("`", i + 1)
            if end == -1:
                raise _bad_request(
                    "can't parse entities: Can't find end of Code entity at byte offset "
                    f"{len(text[:i].encode())}"
                )
            out.append(text[i + 1 : end])
            i = end + 1
            continue
        if char == "]" and text.startswith("](", i):
            end = i + 2
            while end < n and text[end] != ")":
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise _bad_request(
                    "can't parse entities: Can't find end of a URL at byte offset "
                    f"{len(text[:i].encode())}"
                )
            i = end + 1
            continue
        reserved = (
            char in _MDV2_ALWAYS_RESERVED or char in "()" or (char == ">" and not at_line_start)
        )
        if char == "|" and not text.startswith("||", i) and text[i - 1 : i] != "|":
            reserved = True
        if reserved:
            raise _bad_request(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        if char not in "*_~|[]>":
            out.append(char)
        at_line_start = char == "\n"
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One recorded Bot API request."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.time)  # wall clock (time.time()) at arrival
    token: str = ""
    file_names: dict[str, str] = field(default_factory=dict)
    status: int = 200  # HTTP status answered (0 = connection dropped)
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def chat_id(self) -> Any:
        return _chat_key(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """``text`` or ``caption`` parameter, if any."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    def __repr__(self) -> str:
        files = f", files={ {k: len(v) for k, v in self.files.items()} }" if self.files else ""
        return f"Call({self.method!r}, status={self.status}, params={_short(self.params)}{files})"


@dataclass
class _Fault:
    method: str  # lower-case method name or "*"
    status: int
    description: str
    parameters: dict[str, Any] | None
    remaining: int | None  # None = forever

    def matches(self, method: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.method in (method, "*")


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    header = _EmailMessage()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _bad_request("multipart boundary is missing")
    delimiter = b"--" + boundary.encode("latin-1")
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = headers.get_filename()
        if filename is not None:
            files[name] = content
            names[name] = filename
        else:
            charset = headers.get_content_charset() or "utf-8"
            params[name] = _decode_form_value(name, content.decode(charset, "replace"))
    return params, files, names


def _parse_request(
    content_type: str, body: bytes, query: str
) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
    params: dict[str, Any] = {
        key: _decode_form_value(key, value)
        for key, value in parse_qsl(query, keep_blank_values=True)
    }
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files, names
    if ctype == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if isinstance(decoded, dict):
            params.update(decoded)
    elif ctype == "multipart/form-data":
        form, files, names = _parse_multipart(body, content_type)
        params.update(form)
    else:  # application/x-www-form-urlencoded (and anything else form-like)
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[key] = _decode_form_value(key, value)
    return params, files, names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A bot opening dozens of connections at once (a worker starting up with a full send
    # pipeline) must not overflow the listen backlog (socketserver's default is 5): dropped
    # SYNs are retried by TCP after 1 s, then 3 s, and such stalls are not Telegram's.
    request_queue_size = 128

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # client went away (timeouts in reliability tests): not interesting
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the second waits
    # for the client's delayed ACK (~40 ms per answer). Telegram does not behave like that.
    disable_nagle_algorithm = True
    server_version = "FakeTelegram/1.0"
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        body = self._read_body()
        if path.startswith("/file/bot"):
            status, payload = fake._serve_file(path[len("/file/bot") :])
            self._reply(status, "application/octet-stream", payload)
            return
        token, sep, method = (
            path[len("/bot") :].partition("/") if path.startswith("/bot") else ("", "", "")
        )
        if not sep or not method or "/" in method:
            payload = json.dumps(
                {"ok": False, "error_code": 404, "description": "Not Found"}
            ).encode()
            self._reply(404, "application/json", payload)
            return
        try:
            params, files, names = _parse_request(
                self.headers.get("Content-Type") or "", body, split.query
            )
        except _ApiError as exc:
            self._reply(exc.code, "application/json", json.dumps(exc.payload()).encode())
            return
        except ValueError as exc:
            error = _bad_request(f"can't parse request body: {exc}")
            self._reply(400, "application/json", json.dumps(error.payload()).encode())
            return
        status, response, delay = fake._handle(token, method, params, files, names)
        if delay > 0:
            fake._stopping.wait(delay)
        if status == 0:  # injected disconnect
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._reply(status, "application/json", json.dumps(response).encode("utf-8"))

    def _reply(self, status: int, content_type: str, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeTelegram:
    """Fake Bot API server.  See the module docstring."""

    def __init__(
        self,
        *,
        max_poll_wait: float = 1.0,
        strict_formatting: bool = True,
        strict_edits: bool = False,
        record_get_updates: bool = False,
    ) -> None:
        self.max_poll_wait = max_poll_wait
        self.strict_formatting = strict_formatting
        self.strict_edits = strict_edits
        self.record_get_updates = record_get_updates

        self._lock = threading.RLock()
        self._updates_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

        self.calls: list[Call] = []
        self.get_updates_count = 0
        self.tokens: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(10001)
        self._last_update_id = 10000
        self._callback_ids = itertools.count(1)
        self._upload_ids = itertools.count(1)
        self._msg_counters: dict[Any, int] = {}
        self._bot_message_ids: dict[Any, set[int]] = {}
        self._messages: dict[tuple[Any, int], dict[str, Any]] = {}
        self._chats: dict[Any, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._files: dict[str, tuple[bytes, str]] = {}  # file_id -> (data, file_path)
        self._files_by_path: dict[str, str] = {}
        self._faults: list[_Fault] = []
        self._chat_faults: dict[Any, tuple[int, str]] = {}
        self._delays: dict[str, float] = {}
        self._webhook: dict[str, Any] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._methods: dict[str, Callable[[dict[str, Any], dict[str, bytes], dict[str, str]], Any]]
        self._methods = {
            "getme": self._m_get_me,
            "deletewebhook": self._m_delete_webhook,
            "setwebhook": self._m_set_webhook,
            "getwebhookinfo": self._m_get_webhook_info,
            "setmycommands": self._m_set_my_commands,
            "deletemycommands": self._m_delete_my_commands,
            "getmycommands": self._m_get_my_commands,
            "sendmessage": self._m_send_message,
            "sendphoto": self._m_send_photo,
            "senddocument": self._m_send_document,
            "sendlocation": self._m_send_location,
            "sendchataction": self._m_send_chat_action,
            "copymessage": self._m_copy_message,
            "forwardmessage": self._m_forward_message,
            "editmessagetext": self._m_edit_message_text,
            "editmessagecaption": self._m_edit_message_caption,
            "editmessagereplymarkup": self._m_edit_message_reply_markup,
            "deletemessage": self._m_delete_message,
            "answercallbackquery": self._m_answer_callback_query,
            "getfile": self._m_get_file,
            "close": self._m_true,
            "logout": self._m_true,
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> FakeTelegram:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeTelegram:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        with self._updates_cond:
            self._updates_cond.notify_all()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeTelegram:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def token(self) -> str | None:
        """The token of the most recent request (``None`` before any request)."""
        with self._lock:
            return self.tokens[-1] if self.tokens else None

    def __repr__(self) -> str:
        where = f"port={self.port}" if self._server is not None else "stopped"
        return f"<FakeTelegram {where} calls={len(self.calls)} pending={len(self._updates)}>"

    # ---------------------------------------------------------------- request handling

    def _handle(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, bytes],
        file_names: dict[str, str],
    ) -> tuple[int, dict[str, Any], float]:
        at = time.time()
        key = method.lower()
        with self._lock:
            if not self.tokens or self.tokens[-1] != token:
                self.tokens.append(token)
            delay = self._delays.get(key, 0.0)
            try:
                self._check_faults(key, params)
                if key == "getupdates":
                    result = self._get_updates(params)
                else:
                    handler = self._methods.get(key)
                    if handler is None:
                        raise _ApiError(404, "Not Found: method not found")
                    result = handler(params, files, file_names)
                status, response = 200, {"ok": True, "result": result}
            except _ApiError as exc:
                status, response = exc.code, exc.payload()
            if key == "getupdates":
                self.get_updates_count += 1
            if key != "getupdates" or self.record_get_updates:
                self.calls.append(
                    Call(
                        method=method,
                        params=params,
                        files=files,
                        at=at,
                        token=token,
                        file_names=file_names,
                        status=status,
                        response=response,
                    )
                )
        return status, response, delay

    def _check_faults(self, key: str, params: dict[str, Any]) -> None:
        for fault in self._faults:
            if fault.matches(key) and not (fault.method == "*" and key == "getupdates"):
                if fault.remaining is not None:
                    fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining is None or f.remaining > 0]
                if fault.status == 0:
                    raise _ApiError(0, "connection dropped")
                raise _ApiError(fault.status, fault.description, fault.parameters)
        if "chat_id" in params and key != "getupdates":
            chat_fault = self._chat_faults.get(_chat_key(params["chat_id"]))
            if chat_fault is not None:
                raise _ApiError(*chat_fault)

    def _serve_file(self, rest: str) -> tuple[int, bytes]:
        _token, _, file_path = rest.partition("/")
        with self._lock:
            file_id = self._files_by_path.get(file_path)
            if file_id is None:
                return 404, b"Not Found"
            return 200, self._files[file_id][0]

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int | None = 1,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"`` = any but getUpdates) fail.

        ``times=None`` fails forever (until :meth:`clear_faults`).  A 429 carries
        ``parameters.retry_after`` (python-telegram-bot raises ``RetryAfter``); 403 ->
        ``Forbidden``, 400 -> ``BadRequest``, 502/5xx -> ``NetworkError``.  ``status=0`` drops
        the connection without answering (``NetworkError``).
        """
        parameters: dict[str, Any] = {}
        if status == 429:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            elif status in _DEFAULT_DESCRIPTIONS:
                description = _DEFAULT_DESCRIPTIONS[status]
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
        with self._lock:
            self._faults.append(
                _Fault(method.lower(), status, description, parameters or None, times)
            )

    def disconnect_next(self, method: str, *, times: int | None = 1) -> None:
        """Drop the connection (no HTTP answer) for the next ``times`` calls of ``method``."""
        self.fail_next(method, status=0, times=times)

    def fail_chat(
        self,
        chat_id: int | str,
        status: int = 403,
        description: str = "Forbidden: bot was blocked by the user",
    ) -> None:
        """Every call carrying ``chat_id`` (send*, copy/forward, edit*, ...) fails."""
        with self._lock:
            self._chat_faults[_chat_key(chat_id)] = (status, description)

    def delay(self, method: str, seconds: float) -> None:
        """Sleep ``seconds`` before answering ``method`` (the call is still performed and
        recorded on arrival, like a slow Telegram that did deliver the message)."""
        with self._lock:
            if seconds > 0:
                self._delays[method.lower()] = seconds
            else:
                self._delays.pop(method.lower(), None)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._chat_faults.clear()
            self._delays.clear()

    # ---------------------------------------------------------------- files

    def add_file(self, file_id: str, data: bytes, file_path: str | None = None) -> str:
        """Register bytes for ``getFile`` + download; returns the file_path."""
        path = file_path or f"documents/{file_id}"
        with self._lock:
            old = self._files.get(file_id)
            if old is not None:
                self._files_by_path.pop(old[1], None)
            self._files[file_id] = (bytes(data), path)
            self._files_by_path[path] = file_id
        return path

    def file_bytes(self, file_id: str) -> bytes | None:
        with self._lock:
            entry = self._files.get(file_id)
        return None if entry is None else entry[0]

    # ---------------------------------------------------------------- inspection

    def sent(
        self,
        chat_id: int | str | None = None,
        method: str | None = None,
        *,
        include_failed: bool = False,
    ) -> list[Call]:
        """Successful message-delivering calls (sendMessage/Photo/Document/Location,
        copyMessage, forwardMessage), optionally to one chat.  With ``method`` any method can
        be selected (e.g. ``sent(chat, "sendChatAction")``).  ``include_failed`` also returns
        calls that were answered with an error."""
        key = None if method is None else method.lower()
        want_chat = None if chat_id is None else _chat_key(chat_id)
        with self._lock:
            calls = list(self.calls)
        out = []
        for call in calls:
            name = call.method.lower()
            if key is None and name not in MESSAGE_METHODS:
                continue
            if key is not None and name != key:
                continue
            if want_chat is not None and call.chat_id != want_chat:
                continue
            if not call.ok and not include_failed:
                continue
            out.append(call)
        return out

    def calls_of(self, method: str) -> list[Call]:
        """All recorded calls of ``method`` (any chat, any outcome)."""
        key = method.lower()
        with self._lock:
            return [c for c in self.calls if c.method.lower() == key]

    def texts_to(self, chat_id: int | str) -> list[str]:
        """Texts/captions of successful sendMessage/sendPhoto/sendDocument to a chat, in
        order (raw parameter, i.e. with HTML/Markdown markup; calls without text skipped)."""
        out = []
        for call in self.sent(chat_id):
            if call.method.lower() in TEXT_METHODS and call.text is not None:
                out.append(call.text)
        return out

    def last_message(self, chat_id: int | str) -> dict[str, Any] | None:
        """The message the bot last delivered to a chat, as currently stored (edits
        applied), or ``None``."""
        key = _chat_key(chat_id)
        for call in reversed(self.sent(chat_id)):
            result = call.result
            if isinstance(result, dict) and "message_id" in result:
                with self._lock:
                    stored = self._messages.get((key, result["message_id"]))
                return copy.deepcopy(stored if stored is not None else result)
        return None

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """Any known message (sent by the bot or pushed in an update), current state."""
        with self._lock:
            stored = self._messages.get((_chat_key(chat_id), int(message_id)))
        return copy.deepcopy(stored)

    def bot_messages(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Current state of all messages from the bot in a chat (ordered by message_id)."""
        key = _chat_key(chat_id)
        with self._lock:
            found = [
                copy.deepcopy(m)
                for (chat, mid), m in self._messages.items()
                if chat == key and (mid in self._bot_message_ids.get(chat, ()))
            ]
        return sorted(found, key=lambda m: m["message_id"])

    @staticmethod
    def keyboard(call: Call | dict[str, Any]) -> list[list[dict[str, Any]]]:
        """Rows of buttons from a call's ``reply_markup`` (or a message/markup dict).

        Works for inline keyboards and reply keyboards (string buttons become
        ``{"text": ...}``); returns ``[]`` when there is no keyboard."""
        if isinstance(call, Call):
            markup = call.params.get("reply_markup")
        elif "inline_keyboard" in call or "keyboard" in call:
            markup = call
        else:
            markup = call.get("reply_markup")
        markup = _json_value(markup)
        if not isinstance(markup, dict):
            return []
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[{"text": b} if isinstance(b, str) else dict(b) for b in row] for row in rows]

    @classmethod
    def buttons(cls, call: Call | dict[str, Any]) -> list[dict[str, Any]]:
        """All buttons of :meth:`keyboard`, flattened."""
        return [button for row in cls.keyboard(call) for button in row]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """Commands currently set with setMyCommands for a scope/language."""
        with self._lock:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def webhook_url(self) -> str:
        with self._lock:
            return str(self._webhook.get("url", ""))

    @property
    def pending_updates(self) -> int:
        """Updates pushed and not yet confirmed by a later getUpdates offset."""
        with self._lock:
            return len(self._updates)

    def clear_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # ---------------------------------------------------------------- waiting

    def _timeout_message(self, predicate: Any, timeout: float, error: BaseException | None) -> str:
        name = getattr(predicate, "__name__", repr(predicate))
        with self._lock:
            recent = self.calls[-15:]
            pending = len(self._updates)
        lines = [
            f"condition {name} not met within {timeout:.2f}s "
            f"(pending updates: {pending}, getUpdates calls: {self.get_updates_count})"
        ]
        if error is not None:
            lines.append(f"last predicate error: {error!r}")
        lines.append("last calls:" if recent else "no calls recorded")
        lines.extend(f"  {call!r}" for call in recent)
        return "\n".join(lines)

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - a polling deadline, not a cancel scope
    ) -> Any:
        """Poll ``predicate`` every 20 ms until truthy; return its value.  A predicate raising
        ``LookupError`` (IndexError/KeyError) counts as "not yet"."""
        deadline = time.monotonic() + timeout
        error: BaseException | None = None
        while True:
            try:
                value = predicate()
            except LookupError as exc:
                value, error = None, exc
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(predicate, timeout, error))
            await asyncio.sleep(0.02)

    def wait_for_sync(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Blocking variant of :meth:`wait_for`."""
        deadline = time.monotonic() + timeout
        error: BaseException | None = None
        while True:
            try:
                value = predicate()
            except LookupError as exc:
                value, error = None, exc
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(predicate, timeout, error))
            time.sleep(0.02)

    # ---------------------------------------------------------------- updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (``update_id`` assigned when missing); returns the
        queued update.  Messages inside are remembered so replies/callbacks can refer to
        them."""
        update = copy.deepcopy(update)
        with self._updates_cond:
            if "update_id" not in update:
                update["update_id"] = max(next(self._update_ids), self._last_update_id + 1)
            self._last_update_id = max(self._last_update_id, int(update["update_id"]))
            for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
                if isinstance(update.get(kind), dict):
                    self._remember_message(update[kind])
            callback = update.get("callback_query")
            message = callback.get("message") if isinstance(callback, dict) else None
            if isinstance(message, dict) and message.get("date"):
                self._remember_message(message, overwrite=False)
            self._updates.append(update)
            self._updates_cond.notify_all()
        return copy.deepcopy(update)

    def push_message(self, chat_id: int, user_id: int, text: str, **kwargs: Any) -> dict:
        """``push_update(message_update(...))``."""
        return self.push_update(self.message_update(chat_id, user_id, text, **kwargs))

    def push_callback(
        self, chat_id: int, user_id: int, data: str, message_id: int | None = None, **kwargs: Any
    ) -> dict:
        """``push_update(callback_update(...))``; ``message_id`` defaults to the bot's last
        message in the chat."""
        if message_id is None:
            last = self.last_message(chat_id)
            if last is None:
                raise AssertionError(f"no message was sent to chat {chat_id} to click on")
            message_id = last["message_id"]
        return self.push_update(self.callback_update(chat_id, user_id, data, message_id, **kwargs))

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        # Called with self._lock (== the condition's lock) held.
        if self._webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        wait = min(max(_as_float(params.get("timeout"), 0.0), 0.0), self.max_poll_wait)
        allowed = _json_value(params.get("allowed_updates"))
        allowed_set = set(allowed) if isinstance(allowed, list) and allowed else None
        deadline = time.monotonic() + wait
        while True:
            if offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            elif offset < 0:
                self._updates = self._updates[offset:]
            if allowed_set is not None:
                self._updates = [
                    u for u in self._updates if not (set(u) - {"update_id"}) - allowed_set
                ]
            if self._updates or self._stopping.is_set():
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._updates_cond.wait(remaining)

    # ---------------------------------------------------------------- update builders

    def _remember_user(
        self,
        user_id: int,
        first_name: str | None = None,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "id",
    ) -> dict[str, Any]:
        with self._lock:
            known = self._users.get(user_id)
            user: dict[str, Any] = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name or (known or {}).get("first_name") or "Warga",
            }
            last = last_name or (known or {}).get("last_name")
            if last:
                user["last_name"] = last
            handle = username or (known or {}).get("username")
            if handle:
                user["username"] = handle
            if language_code:
                user["language_code"] = language_code
            self._users[user_id] = user
            return dict(user)

    def _chat(
        self,
        chat_id: Any,
        chat_type: str | None = None,
        title: str | None = None,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = _chat_key(chat_id)
        with self._lock:
            known = self._chats.get(key)
            if known is not None and chat_type is None and title is None:
                return dict(known)
            if isinstance(key, str):  # "@channelusername"
                chat = {
                    "id": -1000000000000 - zlib.crc32(key.encode()) % 1000000000,
                    "type": chat_type or "channel",
                    "title": title or key.lstrip("@"),
                    "username": key.lstrip("@"),
                }
            else:
                kind = (
                    chat_type
                    or (known or {}).get("type")
                    or ("private" if key > 0 else "supergroup")
                )
                chat = {"id": key, "type": kind}
                if kind == "private":
                    person = user or self._users.get(key) or {"first_name": "Warga"}
                    chat["first_name"] = person.get("first_name", "Warga")
                    for extra in ("last_name", "username"):
                        if person.get(extra):
                            chat[extra] = person[extra]
                else:
                    chat["title"] = title or (known or {}).get("title") or f"Grup {key}"
                    if kind == "supergroup":
                        chat.setdefault("is_forum", False)
            self._chats[key] = chat
            return dict(chat)

    def _alloc_message_id(self, key: Any) -> int:
        value = self._msg_counters.get(key, 0) + 1
        self._msg_counters[key] = value
        return value

    def _remember_message(self, message: dict[str, Any], *, overwrite: bool = True) -> None:
        chat = message.get("chat") or {}
        if "id" not in chat or "message_id" not in message:
            return
        key = _chat_key(chat["id"])
        mid = int(message["message_id"])
        self._msg_counters[key] = max(self._msg_counters.get(key, 0), mid)
        self._chats.setdefault(key, dict(chat))
        sender = message.get("from")
        if isinstance(sender, dict) and not sender.get("is_bot") and "id" in sender:
            self._users.setdefault(sender["id"], dict(sender))
        if overwrite or (key, mid) not in self._messages:
            self._messages[(key, mid)] = copy.deepcopy(message)

    def _reply_target(self, key: Any, message_id: int | None) -> dict[str, Any] | None:
        if message_id is None:
            return None
        stored = self._messages.get((key, int(message_id)))
        if stored is None:
            return {
                "message_id": int(message_id),
                "date": _now(),
                "chat": self._chat(key),
            }
        target = copy.deepcopy(stored)
        target.pop("reply_to_message", None)
        return target

    def _new_message(
        self,
        chat: dict[str, Any],
        sender: dict[str, Any] | None,
        content: dict[str, Any],
        *,
        reply_to: int | None = None,
        key: Any = None,
    ) -> dict[str, Any]:
        key = _chat_key(chat["id"]) if key is None else key
        message: dict[str, Any] = {
            "message_id": self._alloc_message_id(key),
            "date": _now(),
            "chat": dict(chat),
        }
        if chat.get("type") == "channel":
            message["sender_chat"] = dict(chat)
        elif sender is not None:
            message["from"] = dict(sender)
        target = self._reply_target(key, reply_to)
        if target is not None:
            message["reply_to_message"] = target
        message.update(content)
        self._messages[(key, message["message_id"])] = copy.deepcopy(message)
        if sender is not None and sender.get("id") == BOT_ID:
            self._bot_message_ids.setdefault(key, set()).add(message["message_id"])
        return message

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        content: dict[str, Any],
        *,
        first_name: str | None,
        username: str | None,
        chat_type: str | None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
        last_name: str | None = None,
        language_code: str | None = "id",
    ) -> dict[str, Any]:
        with self._lock:
            user = self._remember_user(user_id, first_name, username, last_name, language_code)
            chat = self._chat(chat_id, chat_type, chat_title, user)
            return self._new_message(chat, user, content, reply_to=reply_to_message_id)

    def message_update(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        first_name: str = "Warga",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "id",
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``{"message": ...}`` text message from a user; a leading ``/command`` gets a
        ``bot_command`` entity (pass ``entities`` to override)."""
        content: dict[str, Any] = {"text": text}
        ents = _command_entities(text) if entities is None else entities
        if ents:
            content["entities"] = ents
        message = self._user_message(
            chat_id,
            user_id,
            content,
            first_name=first_name,
            username=username,
            chat_type=chat_type,
            chat_title=chat_title,
            reply_to_message_id=reply_to_message_id,
            last_name=last_name,
            language_code=language_code,
        )
        return {"message": message}

    def photo_update(
        self,
        chat_id: int,
        user_id: int,
        caption: str | None = None,
        file_id: str = "photo-1",
        reply_to_message_id: int | None = None,
        *,
        data: bytes | None = None,
        first_name: str = "Warga",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """Photo message; ``message.photo[-1].file_id == file_id``.  ``data`` registers the
        bytes for getFile/download."""
        size = len(data) if data is not None else 120_000
        if data is not None:
            self.add_file(file_id, data, f"photos/{file_id}.jpg")
        photo = [
            {
                "file_id": f"{file_id}-s",
                "file_unique_id": f"u-{file_id}-s",
                "width": 90,
                "height": 68,
                "file_size": max(size // 40, 1),
            },
            {
                "file_id": f"{file_id}-m",
                "file_unique_id": f"u-{file_id}-m",
                "width": 320,
                "height": 240,
                "file_size": max(size // 8, 1),
            },
            {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "width": 1280,
                "height": 960,
                "file_size": size,
            },
        ]
        content: dict[str, Any] = {"photo": photo}
        if caption is not None:
            content["caption"] = caption
            ents = _command_entities(caption)
            if ents:
                content["caption_entities"] = ents
        message = self._user_message(
            chat_id,
            user_id,
            content,
            first_name=first_name,
            username=username,
            chat_type=chat_type,
            reply_to_message_id=reply_to_message_id,
        )
        return {"message": message}

    def document_update(
        self,
        chat_id: int,
        user_id: int,
        file_name: str = "dokumen.pdf",
        *,
        file_id: str = "doc-1",
        mime_type: str | None = None,
        caption: str | None = None,
        reply_to_message_id: int | None = None,
        data: bytes | None = None,
        first_name: str = "Warga",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """Document message; ``data`` registers the bytes for getFile/download."""
        if data is not None:
            self.add_file(file_id, data, f"documents/{file_name}")
        document = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_name": file_name,
            "mime_type": mime_type
            or mimetypes.guess_type(file_name)[0]
            or "application/octet-stream",
            "file_size": len(data) if data is not None else 34_567,
        }
        content: dict[str, Any] = {"document": document}
        if caption is not None:
            content["caption"] = caption
        message = self._user_message(
            chat_id,
            user_id,
            content,
            first_name=first_name,
            username=username,
            chat_type=chat_type,
            reply_to_message_id=reply_to_message_id,
        )
        return {"message": message}

    def location_update(
        self,
        chat_id: int,
        user_id: int,
        latitude: float = -6.9147,
        longitude: float = 107.6098,
        *,
        reply_to_message_id: int | None = None,
        first_name: str = "Warga",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        message = self._user_message(
            chat_id,
            user_id,
            {"location": {"latitude": latitude, "longitude": longitude}},
            first_name=first_name,
            username=username,
            chat_type=chat_type,
            reply_to_message_id=reply_to_message_id,
        )
        return {"message": message}

    def sticker_update(
        self,
        chat_id: int,
        user_id: int,
        *,
        file_id: str = "sticker-1",
        emoji: str = "👍",
        first_name: str = "Warga",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        sticker = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "SahutTestStickers",
            "file_size": 23_456,
        }
        message = self._user_message(
            chat_id,
            user_id,
            {"sticker": sticker},
            first_name=first_name,
            username=username,
            chat_type=chat_type,
        )
        return {"message": message}

    def edited_message_update(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        message_id: int | None = None,
        *,
        first_name: str = "Warga",
        username: str | None = None,
        chat_type: str | None = None,
    ) -> dict[str, Any]:
        """``{"edited_message": ...}``: ``message_id`` (default: a new id) gets ``text``."""
        with self._lock:
            user = self._remember_user(user_id, first_name, username)
            chat = self._chat(chat_id, chat_type, None, user)
            key = _chat_key(chat_id)
            stored = None if message_id is None else self._messages.get((key, message_id))
            if stored is None:
                message: dict[str, Any] = {
                    "message_id": message_id or self._alloc_message_id(key),
                    "date": _now() - 60,
                    "chat": chat,
                    "from": user,
                }
            else:
                message = copy.deepcopy(stored)
            message["text"] = text
            message.pop("entities", None)
            ents = _command_entities(text)
            if ents:
                message["entities"] = ents
            message["edit_date"] = _now()
            self._remember_message(message)
        return {"edited_message": copy.deepcopy(message)}

    def channel_post_update(
        self, chat_id: int, text: str, *, title: str = "Kanal Pengumuman"
    ) -> dict[str, Any]:
        with self._lock:
            chat = self._chat(chat_id, "channel", title)
            message = self._new_message(chat, None, {"text": text})
        return {"channel_post": message}

    def poll_update(
        self,
        question: str = "Apakah layanan kami memuaskan?",
        options: tuple[str, ...] | list[str] = ("Ya", "Tidak"),
        *,
        poll_id: str | None = None,
        votes: list[int] | None = None,
        is_closed: bool = False,
    ) -> dict[str, Any]:
        counts = list(votes) if votes is not None else [0] * len(options)
        poll = {
            "id": poll_id or f"poll-{next(self._callback_ids)}",
            "question": question,
            "options": [
                {"text": text, "voter_count": count, "persistent_id": str(index)}
                for index, (text, count) in enumerate(zip(options, counts, strict=True))
            ],
            "total_voter_count": sum(counts),
            "is_closed": is_closed,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,  # Bot API 9.6 (required by python-telegram-bot 22.8)
            "members_only": False,  # Bot API 10.0
        }
        return {"poll": poll}

    def my_chat_member_update(
        self,
        chat_id: int,
        user_id: int,
        new_status: str = "kicked",
        *,
        old_status: str | None = None,
        first_name: str = "Warga",
    ) -> dict[str, Any]:
        """The bot's membership changed (``kicked`` = user blocked the bot in private)."""
        if old_status is None:
            old_status = "member" if new_status != "member" else "left"
        with self._lock:
            user = self._remember_user(user_id, first_name)
            chat = self._chat(chat_id, None, None, user)
        return {
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": _now(),
                "old_chat_member": _chat_member(old_status),
                "new_chat_member": _chat_member(new_status),
            }
        }

    def callback_update(
        self,
        chat_id: int,
        user_id: int,
        data: str,
        message_id: int,
        *,
        first_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """A button press on the bot's message ``message_id`` (the recorded message when
        known, else a minimal one)."""
        with self._lock:
            user = self._remember_user(user_id, first_name, username)
            key = _chat_key(chat_id)
            stored = self._messages.get((key, int(message_id)))
            if stored is not None:
                message = copy.deepcopy(stored)
            else:
                message = {
                    "message_id": int(message_id),
                    "date": _now(),
                    "chat": self._chat(chat_id, None, None, user),
                    "from": dict(BOT_USER),
                    "text": "",
                }
            query_id = f"{8_000_000_000 + next(self._callback_ids)}"
        return {
            "callback_query": {
                "id": query_id,
                "from": user,
                "chat_instance": str(-(abs(zlib.crc32(str(chat_id).encode())) + 1)),
                "data": data,
                "message": message,
            }
        }

    # ---------------------------------------------------------------- API methods

    def _m_true(self, params: dict, files: dict, names: dict) -> bool:
        return True

    def _m_get_me(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_delete_webhook(self, params: dict, files: dict, names: dict) -> bool:
        self._webhook = {}
        if params.get("drop_pending_updates") in (True, "true", "True", 1):
            self._updates.clear()
        return True

    def _m_set_webhook(self, params: dict, files: dict, names: dict) -> bool:
        url = params.get("url") or ""
        if url and not str(url).startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self._webhook = {
            "url": url,
            "max_connections": _as_int(params.get("max_connections"), 40),
            "allowed_updates": _json_value(params.get("allowed_updates")),
            "has_custom_certificate": "certificate" in files,
        }
        if params.get("drop_pending_updates") in (True, "true", "True", 1):
            self._updates.clear()
        return True

    def _m_get_webhook_info(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self._webhook.get("url", ""),
            "has_custom_certificate": bool(self._webhook.get("has_custom_certificate")),
            "pending_update_count": len(self._updates),
        }
        if self._webhook.get("url"):
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = _json_value(scope) or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _m_set_my_commands(self, params: dict, files: dict, names: dict) -> bool:
        commands = _json_value(params.get("commands"))
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        if len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = str(command.get("description", "")) if isinstance(command, dict) else ""
            if not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = copy.deepcopy(commands)
        return True

    def _m_delete_my_commands(self, params: dict, files: dict, names: dict) -> bool:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands.pop(key, None)
        return True

    def _m_get_my_commands(self, params: dict, files: dict, names: dict) -> list[dict]:
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self._commands.get(key, []))

    # -- sending helpers

    def _target_chat(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        key = _chat_key(raw)
        if key == 0:
            raise _bad_request("chat not found")
        return key, self._chat(key)

    def _format(self, params: dict[str, Any], field_name: str, limit: int) -> str | None:
        text = params.get(field_name)
        if text is None:
            return None
        text = str(text)
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            plain = _parse_html(text, self.strict_formatting)
        elif mode == "markdownv2" and self.strict_formatting:
            plain = _check_markdown_v2(text)
        else:
            plain = text
        if len(plain) > limit:
            raise _bad_request(
                "message is too long" if field_name == "text" else "message caption is too long"
            )
        return plain

    @staticmethod
    def _validate_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards / remove / force_reply are not echoed in results
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _bad_request("can't parse inline keyboard button: Text is empty")
                actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
                if not actions:
                    raise _bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= _MAX_CALLBACK_DATA:
                    raise _bad_request("BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _reply_to_id(params: dict[str, Any], key: Any) -> int | None:
        reply = _json_value(params.get("reply_parameters"))
        if isinstance(reply, dict) and "message_id" in reply:
            other = reply.get("chat_id")
            if other is not None and _chat_key(other) != key:
                return None
            return _as_int(reply["message_id"], 0) or None
        legacy = params.get("reply_to_message_id")
        return None if legacy is None else _as_int(legacy, 0) or None

    def _deliver(
        self, params: dict[str, Any], content: dict[str, Any], *, key: Any, chat: dict
    ) -> dict[str, Any]:
        markup = self._validate_markup(_json_value(params.get("reply_markup")))
        if markup is not None:
            content["reply_markup"] = markup
        if params.get("message_thread_id") is not None:
            content["message_thread_id"] = _as_int(params["message_thread_id"], 0)
        if params.get("protect_content") in (True, "true"):
            content["has_protected_content"] = True
        return self._new_message(
            chat, BOT_USER, content, reply_to=self._reply_to_id(params, key), key=key
        )

    def _store_upload(
        self, kind: str, data: bytes, filename: str | None, extension: str
    ) -> tuple[str, str]:
        number = next(self._upload_ids)
        file_id = f"sent-{kind}-{number}"
        name = filename or f"file_{number}{extension}"
        folder = "photos" if kind == "photo" else "documents"
        self.add_file(file_id, data, f"{folder}/file_{number}_{name}")
        return file_id, name

    # -- send*

    def _m_send_message(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        key, chat = self._target_chat(params)
        text = self._format(params, "text", _MAX_TEXT)
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        content: dict[str, Any] = {"text": text}
        entities = _json_value(params.get("entities"))
        if isinstance(entities, list) and entities:
            content["entities"] = entities
        preview = _json_value(params.get("link_preview_options"))
        if isinstance(preview, dict) and preview:
            content["link_preview_options"] = preview
        return self._deliver(params, content, key=key, chat=chat)

    def _caption(self, params: dict[str, Any], content: dict[str, Any]) -> None:
        caption = self._format(params, "caption", _MAX_CAPTION)
        if caption:
            content["caption"] = caption

    def _m_send_photo(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        key, chat = self._target_chat(params)
        if "photo" in files:
            data = files["photo"]
            file_id, _ = self._store_upload("photo", data, None, ".jpg")
            size = len(data)
        elif params.get("photo"):
            file_id = str(params["photo"])
            size = len(self.file_bytes(file_id) or b"") or 120_000
        else:
            raise _bad_request("there is no photo in the request")
        content: dict[str, Any] = {
            "photo": [
                {
                    "file_id": f"{file_id}-s",
                    "file_unique_id": f"u-{file_id}-s",
                    "width": 90,
                    "height": 68,
                    "file_size": max(size // 40, 1),
                },
                {
                    "file_id": file_id,
                    "file_unique_id": f"u-{file_id}",
                    "width": 1280,
                    "height": 960,
                    "file_size": size,
                },
            ]
        }
        self._caption(params, content)
        return self._deliver(params, content, key=key, chat=chat)

    def _m_send_document(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        key, chat = self._target_chat(params)
        if "document" in files:
            data = files["document"]
            file_id, file_name = self._store_upload(
                "document", data, names.get("document"), ".bin"
            )
            size = len(data)
        elif params.get("document"):
            file_id = str(params["document"])
            file_name = file_id.rsplit("/", 1)[-1]
            size = len(self.file_bytes(file_id) or b"") or 34_567
        else:
            raise _bad_request("there is no document in the request")
        content: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": f"u-{file_id}",
                "file_name": file_name,
                "mime_type": mimetypes.guess_type(file_name)[0] or "application/octet-stream",
                "file_size": size,
            }
        }
        self._caption(params, content)
        return self._deliver(params, content, key=key, chat=chat)

    def _m_send_location(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        key, chat = self._target_chat(params)
        try:
            latitude = float(params["latitude"])
            longitude = float(params["longitude"])
        except (KeyError, TypeError, ValueError):
            raise _bad_request("latitude and longitude are required") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise _bad_request("wrong latitude or longitude")
        location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if params.get("horizontal_accuracy") is not None:
            location["horizontal_accuracy"] = _as_float(params["horizontal_accuracy"], 0.0)
        return self._deliver(params, {"location": location}, key=key, chat=chat)

    def _m_send_chat_action(self, params: dict, files: dict, names: dict) -> bool:
        self._target_chat(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    def _source_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("from_chat_id") is None or params.get("message_id") is None:
            raise _bad_request("message to copy not found")
        source_key = _chat_key(params["from_chat_id"])
        mid = _as_int(params["message_id"], 0)
        stored = self._messages.get((source_key, mid))
        if stored is None:
            return {"message_id": mid, "date": _now(), "chat": self._chat(source_key)}
        return copy.deepcopy(stored)

    _CONTENT_KEYS = (
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "document",
        "location",
        "sticker",
        "venue",
        "contact",
    )

    def _m_copy_message(self, params: dict, files: dict, names: dict) -> dict[str, int]:
        key, chat = self._target_chat(params)
        source = self._source_message(params)
        content = {k: source[k] for k in self._CONTENT_KEYS if k in source}
        if "caption" in params:
            caption = self._format(params, "caption", _MAX_CAPTION)
            content.pop("caption_entities", None)
            if caption:
                content["caption"] = caption
            else:
                content.pop("caption", None)
        message = self._deliver(params, content, key=key, chat=chat)
        return {"message_id": message["message_id"]}

    def _m_forward_message(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        key, chat = self._target_chat(params)
        source = self._source_message(params)
        content = {k: source[k] for k in self._CONTENT_KEYS if k in source}
        source_chat = source.get("chat") or {}
        if source_chat.get("type") == "channel":
            origin: dict[str, Any] = {
                "type": "channel",
                "date": source.get("date", _now()),
                "chat": source_chat,
                "message_id": source["message_id"],
            }
        elif isinstance(source.get("from"), dict):
            origin = {
                "type": "user",
                "date": source.get("date", _now()),
                "sender_user": source["from"],
            }
        else:
            origin = {
                "type": "hidden_user",
                "date": source.get("date", _now()),
                "sender_user_name": "Warga",
            }
        content["forward_origin"] = origin
        return self._new_message(chat, BOT_USER, content, key=key)

    # -- edits

    def _editable(self, params: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        """Returns (key, stored message) or None for inline messages."""
        if params.get("inline_message_id"):
            return None
        key, chat = self._target_chat(params)
        mid = _as_int(params.get("message_id"), 0)
        if mid <= 0:
            raise _bad_request("message identifier is not specified")
        stored = self._messages.get((key, mid))
        if stored is None:
            stored = {"message_id": mid, "date": _now(), "chat": chat, "from": dict(BOT_USER)}
            self._messages[(key, mid)] = stored
        return key, stored

    def _apply_edit(self, stored: dict[str, Any], changes: dict[str, Any], markup: Any) -> dict:
        before = copy.deepcopy(stored)
        for name, value in changes.items():
            if value is None:
                stored.pop(name, None)
            else:
                stored[name] = value
        if markup is None:
            stored.pop("reply_markup", None)
        else:
            stored["reply_markup"] = markup
        if self.strict_edits and {k: v for k, v in stored.items() if k != "edit_date"} == {
            k: v for k, v in before.items() if k != "edit_date"
        }:
            stored.clear()
            stored.update(before)
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        stored["edit_date"] = _now()
        return copy.deepcopy(stored)

    def _m_edit_message_text(self, params: dict, files: dict, names: dict) -> Any:
        text = self._format(params, "text", _MAX_TEXT)
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        markup = self._validate_markup(_json_value(params.get("reply_markup")))
        target = self._editable(params)
        if target is None:
            return True
        _, stored = target
        if "text" not in stored and ("caption" in stored or "photo" in stored):
            raise _bad_request("there is no text in the message to edit")
        entities = _json_value(params.get("entities"))
        return self._apply_edit(
            stored,
            {"text": text, "entities": (entities or None) if isinstance(entities, list) else None},
            markup,
        )

    def _m_edit_message_caption(self, params: dict, files: dict, names: dict) -> Any:
        caption = self._format(params, "caption", _MAX_CAPTION)
        markup = self._validate_markup(_json_value(params.get("reply_markup")))
        target = self._editable(params)
        if target is None:
            return True
        _, stored = target
        return self._apply_edit(stored, {"caption": caption or None}, markup)

    def _m_edit_message_reply_markup(self, params: dict, files: dict, names: dict) -> Any:
        markup = self._validate_markup(_json_value(params.get("reply_markup")))
        target = self._editable(params)
        if target is None:
            return True
        _, stored = target
        return self._apply_edit(stored, {}, markup)

    def _m_delete_message(self, params: dict, files: dict, names: dict) -> bool:
        key, _ = self._target_chat(params)
        self._messages.pop((key, _as_int(params.get("message_id"), 0)), None)
        return True

    def _m_answer_callback_query(self, params: dict, files: dict, names: dict) -> bool:
        if not params.get("callback_query_id"):
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        return True

    def _m_get_file(self, params: dict, files: dict, names: dict) -> dict[str, Any]:
        file_id = str(params.get("file_id") or "")
        entry = self._files.get(file_id)
        if entry is None:
            raise _bad_request("invalid file_id")
        data, path = entry
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }


def _chat_member(status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"user": dict(BOT_USER), "status": status}
    if status == "kicked":
        member["until_date"] = 0
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            {
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
            }
        )
    elif status == "restricted":
        member.update(
            {
                "is_member": True,
                "until_date": 0,
                **{
                    name: False
                    for name in (
                        "can_change_info",
                        "can_invite_users",
                        "can_pin_messages",
                        "can_send_messages",
                        "can_send_polls",
                        "can_send_other_messages",
                        "can_add_web_page_previews",
                        "can_manage_topics",
                        "can_send_audios",
                        "can_send_documents",
                        "can_send_photos",
                        "can_send_videos",
                        "can_send_video_notes",
                        "can_send_voice_notes",
                        "can_edit_tag",
                    )
                },
            }
        )
    return member
