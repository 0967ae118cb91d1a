"""The API key never leaks; TLS is verified by default; cleartext to a remote host warns."""

from __future__ import annotations

import gc
import logging
import pathlib
import pickle
import shutil
import ssl
import subprocess
import traceback
from typing import Any

import pytest
from aiohttp import web

import videogen_nb as vg
from tests.support import small
from videogen_nb.run import RowState

SENTINEL = "sk-SENTINEL-5e1f0c2a9b-never-show-me"
WRONG = "sk-WRONGKEY-77d1c3-also-secret"
SECRETS = (SENTINEL, SENTINEL.removeprefix("sk-"), WRONG, WRONG.removeprefix("sk-"))


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _exception_texts(exc: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc)]
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [repr(current), str(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return texts


def _walk_vars(root: Any, depth: int = 6) -> list[str]:
    """repr() of ``vars()`` of every object reachable through ``vars()`` from ``root``."""
    out: list[str] = []
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        obj, level = stack.pop()
        if id(obj) in seen or level > depth:
            continue
        seen.add(id(obj))
        try:
            attributes = vars(obj)
        except TypeError:
            continue
        out.append(repr(obj))
        try:
            out.append(repr(attributes))
        except Exception as exc:  # some third-party reprs need a running loop
            out.append(type(exc).__name__)
        for value in attributes.values():
            items = (
                value.values()
                if isinstance(value, dict)
                else (value if isinstance(value, (list, tuple, set)) else [value])
            )
            for item in items:
                if not isinstance(item, (str, bytes, int, float, type(None))):
                    stack.append((item, level + 1))
    return out


async def test_key_never_appears_anywhere(make_sandbox, make_client, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    sandbox = make_sandbox(api_key=SENTINEL, failure_rate=0.3, seed=5)
    texts: list[str] = []

    client = make_client(sandbox, concurrency=2)
    texts += [repr(client), str(client), repr(client.journal), repr(client.lanes)]
    result = await client.generate(small("one"))
    texts += [repr(result), repr(result.task), repr(result.task.raw)]

    # a run through every fault the sandbox has
    sandbox.configure(
        rate_limit=1,
        rate_limit_on="post",
        retry_after=0,
        server_error=2,
        reset=2,
        drop_after_accept=1,
        malformed=1,
        truncate_after=800,
    )
    run = client.run([small(f"row {i}") for i in range(6)], timeout=20)
    await run
    assert any(row.state is RowState.SUBMIT_UNKNOWN for row in run.rows)
    run.retry_unknown()
    await run
    texts += [repr(run), repr(run.results), repr(run.rows), repr(run.to_dataframe().to_dict())]
    for row in run.rows:
        if row.error is not None:
            texts += _exception_texts(row.error)
        if row.task is not None:
            texts.append(repr(row.task.raw))
    assert any(row.state is RowState.FAILED for row in run.rows), "want a failure in the flow"

    # a wrong key
    wrong = make_client(sandbox, api_key=WRONG)
    with pytest.raises(vg.AuthenticationError) as info:
        await wrong.generate(small("wrong key"))
    texts += [*_exception_texts(info.value), repr(wrong)]

    # the blocking twin, and a run it owns
    blocking = vg.Client(
        sandbox.base_url, SENTINEL, journal=tmp_path / "b.sqlite", output_dir=tmp_path / "b"
    )
    try:
        texts += [repr(blocking), str(blocking)]
        texts += _walk_vars(blocking)
        for obj in (blocking, client, client._transport, blocking.aclient):
            try:
                texts.append(repr(pickle.dumps(obj)))
            except Exception as exc:  # refusing to pickle is fine, if it says nothing
                texts += _exception_texts(exc)
    finally:
        blocking.close()

    texts += _walk_vars(client) + _walk_vars(run)
    texts += [record.getMessage() for record in caplog.records]
    texts += [repr(record.args) for record in caplog.records]
    texts.append(caplog.text)

    leaks = {secret for text in texts for secret in _leaks(text)}
    assert not leaks, "the API key leaked"

    # the journal file (and its write-ahead log) on disk
    await client.aclose()
    gc.collect()
    journal_path = (
        pathlib.Path(client.journal.path)
        if hasattr(client.journal, "path")
        else (tmp_path / "journal.sqlite")
    )
    files = [p for p in journal_path.parent.glob(journal_path.name + "*")]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, f"key found in {path.name}"
    assert len(caplog.records) > 5, "logging at DEBUG should have recorded the flow"
    fired = sandbox.stats(include_tasks=False)["faults"]
    assert {"rate_limit", "server_error", "reset", "drop_after_accept", "malformed"} <= set(fired)


def test_tls_verification_is_on_by_default(sandbox):
    client = vg.AsyncClient("https://gateway.example", "sk-x", journal=None)
    assert client._transport.verify_ssl is True


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_self_signed_certificate_is_refused(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen: list[str] = []

    async def models(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response({"object": "list", "data": [{"id": "m"}]})

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        strict = vg.AsyncClient(f"https://127.0.0.1:{port}", SENTINEL, journal=None)
        with pytest.raises(vg.APIConnectionError, match=r"(?i)certificate") as info:
            await strict.models()
        assert not _leaks("".join(_exception_texts(info.value)))
        await strict.aclose()
        assert seen == [], "the key went to a server whose certificate failed"
        lax = vg.AsyncClient(f"https://127.0.0.1:{port}", SENTINEL, journal=None, verify_ssl=False)
        assert await lax.models() == ["m"]
        await lax.aclose()
    finally:
        await runner.cleanup()


def test_cleartext_to_remote_host_warns_without_sending(caplog):
    caplog.set_level(logging.WARNING)
    client = vg.AsyncClient("http://example.invalid:8731/v1", SENTINEL, journal=None)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("http://" in r.getMessage() and "unencrypted" in r.getMessage() for r in warnings)
    assert not _leaks(caplog.text)
    assert client._transport._session is None  # built, nothing sent
    caplog.clear()
    vg.AsyncClient("http://127.0.0.1:8731", SENTINEL, journal=None)
    vg.AsyncClient("http://localhost:8732", SENTINEL, journal=None)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
