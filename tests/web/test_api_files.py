"""Attachments through the HTTP API: upload, send with a message, the provider sees the file's text."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import docgen
from tests.support.appserver import API_KEY, AppFactory, RunningApp, appapi_headers
from tests.support.chat import wait_done
from tests.support.scripted_provider import ScriptedProvider, openai_stream


async def new_session(c: httpx.AsyncClient) -> int:
    r = await c.put("/chat/new_session", json={})
    assert r.status_code == 200, r.text
    return r.json()["session"]["id"]


async def upload(c: httpx.AsyncClient, sid: int, name: str, data: bytes) -> httpx.Response:
    return await c.post("/chat/upload_file", params={"sessionId": sid, "name": name}, content=data,
                        headers={"Content-Type": "application/octet-stream"})


async def ask(c: httpx.AsyncClient, sid: int, text: str, attachments: list[int] | None = None) -> dict:
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": text,
                                               "attachments": attachments or []})
    assert r.status_code == 200, r.text
    info = (await c.get("/chat/generate", params={"sessionId": sid})).json()
    done = await wait_done(c, sid, info["taskId"])
    assert done.status_code == 200, done.text
    return done.json()


def user_contents(provider: ScriptedProvider, index: int = -1) -> list:
    return [m["content"] for m in provider.requests[index].json["messages"] if m["role"] == "user"]


async def test_uploaded_pdf_enters_the_prompt_labelled_and_stays_for_later_turns(
        chat_app: RunningApp, scripted_provider: ScriptedProvider) -> None:
    scripted_provider.script(openai_stream(["The total is 99 EUR."]), openai_stream(["Yes, ACME."]))
    c = chat_app.client("alice")
    sid = await new_session(c)
    r = await upload(c, sid, "invoice.pdf", docgen.pdf([["Invoice 4711 from ACME", "Total: 99 EUR"]]))
    assert r.status_code == 200, r.text
    chip = r.json()
    assert chip["name"] == "invoice.pdf" and chip["kind"] == "text" and chip["source"] == "upload"
    assert "text" not in chip  # the text never goes back to the browser
    answer = await ask(c, sid, "What is the total?", [chip["id"]])
    assert answer["content"] == "The total is 99 EUR."
    first = user_contents(scripted_provider)[-1]
    assert first.startswith('<file name="invoice.pdf">\nInvoice 4711 from ACME\nTotal: 99 EUR\n</file>')
    assert first.endswith("What is the total?")
    messages = (await c.get("/chat/messages", params={"sessionId": sid})).json()
    assert [a["name"] for a in json.loads(messages[0]["attachments"])] == ["invoice.pdf"]
    await ask(c, sid, "Who sent it?")
    later = user_contents(scripted_provider)
    assert "Invoice 4711" in later[0] and later[-1] == "Who sent it?"


async def test_attachment_of_another_user_cannot_be_sent(chat_app: RunningApp) -> None:
    alice, bob = chat_app.client("alice"), chat_app.client("bob")
    sid_a, sid_b = await new_session(alice), await new_session(bob)
    chip = (await upload(alice, sid_a, "a.txt", b"alice's secret")).json()
    r = await bob.put("/chat/new_message", json={"sessionId": sid_b, "role": "human", "content": "x",
                                                 "attachments": [chip["id"]]})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert (await bob.request("DELETE", "/chat/delete_attachment",
                              json={"attachmentId": chip["id"]})).status_code == 404


@pytest.mark.parametrize(("name", "data", "status", "says"), [
    ("tool.exe", b"MZ\x90\x00binary", 415, "not supported"),
    ("fake.pdf", b"PK\x03\x04 a zip", 415, "not a PDF"),
    ("bomb.docx", docgen.docx_zip_bomb(64), 422, "zip bomb"),
    ("loop.pdf", docgen.pdf_reference_loop(), 422, "reference loop"),
    ("empty.pdf", docgen.pdf([""]), 422, "no text"),
])
async def test_unusable_files_get_a_clear_error_and_the_app_stays_healthy(
        app_factory: AppFactory, scripted_provider: ScriptedProvider, name: str, data: bytes, status: int,
        says: str) -> None:
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)
    c = app.client("alice")
    sid = await new_session(c)
    r = await upload(c, sid, name, data)
    code = "file_type_unsupported" if status == 415 else "file_rejected"
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert says in r.json()["error"] and "Traceback" not in r.text
    ok = await upload(c, sid, "fine.md", b"# still fine")
    assert ok.status_code == 200


async def test_upload_over_the_limit_is_refused_before_it_is_read(app_factory: AppFactory) -> None:
    app = await app_factory(ATTACHMENT_MAX_BYTES="1000000", ATTACHMENT_MAX_IMAGE_BYTES="100000")
    c = app.client("alice")
    sid = await new_session(c)
    # Announced as 2 GiB, of which only 64 KiB are sent: the answer must come from the header alone.
    host, port = urlsplit(app.url).hostname, urlsplit(app.url).port
    reader, writer = await asyncio.open_connection(host, port)
    head = [f"POST /chat/upload_file?sessionId={sid}&name=huge.txt HTTP/1.1", f"Host: {host}",
            f"Content-Length: {2 << 30}", "Content-Type: application/octet-stream",
            *(f"{k}: {v}" for k, v in appapi_headers("alice", app.environ["APP_SECRET"]).items())]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + b"\0" * 65536)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    response = status_line + await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), response
    assert b"file_too_large" in response and b"2147.5 MB" in response
    # Without a Content-Length (chunked), the body is counted while it is read.
    async def chunks():
        for _ in range(40):
            yield b"x" * 65536

    r = await c.post("/chat/upload_file", params={"sessionId": sid, "name": "big.txt"}, content=chunks())
    assert r.status_code == 413 and r.json()["code"] == "file_too_large"
    assert (await upload(c, sid, "small.txt", b"ok")).status_code == 200


async def test_images_need_a_vision_model(app_factory: AppFactory, scripted_provider: ScriptedProvider) -> None:
    image = docgen.png()
    plain = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="text-only")
    c = plain.client("alice")
    r = await upload(c, await new_session(c), "photo.png", image)
    assert r.status_code == 400 and r.json()["code"] == "vision_unsupported"
    assert "text-only" in r.json()["error"] and "vision_models" in r.json()["error"]

    vision = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_MODEL="gpt-4o",
                               VISION_MODELS="llava, gpt-4o")
    scripted_provider.script(openai_stream(["A red square."]))
    c = vision.client("alice")
    sid = await new_session(c)
    chip = (await upload(c, sid, "photo.png", image)).json()
    assert chip["kind"] == "image"
    await ask(c, sid, "What is this?", [chip["id"]])
    parts = user_contents(scripted_provider)[-1]
    assert parts[0] == {"type": "text", "text": "What is this?"}
    assert parts[1] == {"type": "image_url",
                        "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}}


async def test_message_with_only_files_and_too_many_files(chat_app: RunningApp) -> None:
    c = chat_app.client("alice")
    sid = await new_session(c)
    ids = [(await upload(c, sid, f"n{i}.txt", b"note")).json()["id"] for i in range(11)]
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "", "attachments": ids})
    assert r.status_code == 400 and r.json()["code"] == "invalid_parameter"
    r = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "",
                                               "attachments": ids[:2]})
    assert r.status_code == 200 and r.json()["content"] == "Please look at the attached files."
    # Sent attachments belong to their message now: they cannot be sent again or removed on their own.
    again = await c.put("/chat/new_message", json={"sessionId": sid, "role": "human", "content": "x",
                                                   "attachments": ids[:1]})
    assert again.status_code == 404


async def test_extracted_text_is_never_logged(app_factory: AppFactory, scripted_provider: ScriptedProvider,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    scripted_provider.script(openai_stream(["Noted."]))
    app = await app_factory(STREAMING_API_URL=scripted_provider.chat_url, STREAMING_API_KEY=API_KEY)
    c = app.client("alice")
    sid = await new_session(c)
    secret = "confidential-salary-table-7f3a"
    chip = (await upload(c, sid, "hr.docx", docgen.docx([f"Row 1: {secret}"]))).json()
    assert (await upload(c, sid, "bomb.docx", docgen.docx_zip_bomb(64))).status_code == 422
    await ask(c, sid, "Summarise", [chip["id"]])
    assert secret in json.dumps(scripted_provider.requests[-1].json)  # it did reach the model...
    assert secret not in caplog.text  # ...and no log line, aiosqlite's DEBUG lines included
    app_lines = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("assistant_stream"))
    assert "hr.docx" not in app_lines and "bomb.docx" not in app_lines and "file_bomb" in app_lines


async def test_a_json_body_is_not_taken_for_the_file(app_factory: AppFactory) -> None:
    app = await app_factory()
    c = app.client("alice")
    sid = await new_session(c)
    r = await c.post("/chat/upload_file", params={"sessionId": sid, "name": "a.txt"}, json={"sessionId": sid})
    assert r.status_code == 400 and "application/octet-stream" in r.json()["error"]


async def test_an_upload_that_stops_arriving_is_408_and_the_connection_closed(
        app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant_stream.web import protocol

    monkeypatch.setattr(protocol, "BODY_TIMEOUT", 0.3)
    app: RunningApp = await app_factory()
    sid = await new_session(app.client("alice"))
    port = int(app.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in appapi_headers("alice").items())
    writer.write(f"POST /chat/upload_file?sessionId={sid}&name=a.txt HTTP/1.1\r\nHost: x\r\n{head}"
                 "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\nthe first bytes".encode())
    reply = await asyncio.wait_for(reader.read(), 10)  # returns at EOF: answered, then closed
    writer.close()
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:300]
    assert b'"code":"request_timeout"' in reply.replace(b" ", b"")
