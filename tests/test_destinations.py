"""Issue 12, item 11: no GET into link-local or (from a public gateway) private networks.

The gateway names the URL of its video; the toolkit fetches it. A URL on another host than
the gateway is refused when it lands in a link-local range (always: the metadata service
lives there) or in a private range while the gateway is public, before any connection,
after resolving names, and again on every redirect. ``<video src>`` never points there.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

import videogen_nb as vg
from tests.support import small
from videogen_nb.core.urls import address_risk, host_risk
from videogen_nb.display.video import refused_src_reason, result_html
from videogen_nb.http.destinations import DestinationGuard
from videogen_nb.http.download import stream_to_file
from videogen_nb.http.retry import RetryPolicy
from videogen_nb.http.transport import Transport

PUBLIC_GATEWAY = "https://api.gateway.example"

#: what the test resolver answers; a name not here does not resolve
NAMES = {
    "api.gateway.example": ["93.184.216.34"],
    "cdn.example": ["151.101.1.1", "2a04:4e42::1"],
    "meta.evil.example": ["169.254.169.254"],
    "intranet.evil.example": ["151.101.1.2", "10.0.0.7"],
    "v6.evil.example": ["fe80::1"],
    "ula.evil.example": ["fd12:3456::1"],
}


class TableResolver(AbstractResolver):
    """An aiohttp resolver over ``NAMES``: DNS answers the test controls."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in NAMES:
            raise OSError(f"{host} does not resolve")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in NAMES[host]
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("address", "risk"),
    [
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("::ffff:169.254.169.254", "link-local"),
        ("100.100.100.200", "link-local"),
        ("fd00:ec2::254", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("127.0.0.1", "private"),
        ("::1", "private"),
        ("0.0.0.0", "private"),
        ("100.64.0.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("172.32.0.1", None),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
    ],
)
def test_address_ranges(address: str, risk: str | None):
    assert address_risk(address) == risk
    assert host_risk(f"[{address}]" if ":" in address else address) == risk


def test_metadata_and_local_names():
    assert host_risk("metadata.google.internal") == "link-local"
    assert host_risk("METADATA.google.internal.") == "link-local"
    assert host_risk("localhost") == "private"
    assert host_risk("cdn.example") is None


def _guard(allow_private: bool = False, gateway: str = PUBLIC_GATEWAY) -> DestinationGuard:
    return DestinationGuard(gateway, allow_private=allow_private, resolver=TableResolver())


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/v.mp4",
        "http://[::ffff:169.254.169.254]/v.mp4",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://meta.evil.example/v.mp4",
        "http://v6.evil.example/v.mp4",
    ],
)
async def test_link_local_is_refused_even_when_private_is_allowed(url: str):
    for gateway in (PUBLIC_GATEWAY, "http://127.0.0.1:8000"):
        with pytest.raises(vg.DownloadError, match="link-local") as info:
            await _guard(allow_private=True, gateway=gateway).check(url)
        assert "refused to download" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/v.mp4",
        "http://172.16.3.4:9000/v.mp4",
        "http://192.168.0.10/v.mp4",
        "http://[fc00::5]/v.mp4",
        "http://127.0.0.1:9000/v.mp4",
        "http://[::1]/v.mp4",
        "http://localhost:9000/v.mp4",
        "http://intranet.evil.example/v.mp4",
        "http://ula.evil.example/v.mp4",
    ],
)
async def test_private_is_refused_from_a_public_gateway_unless_allowed(url: str):
    with pytest.raises(vg.DownloadError) as info:
        await _guard().check(url)
    message = str(info.value)
    assert "private network" in message and "allow_private_downloads=True" in message
    assert "VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS" in message
    host = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    assert host.split(":")[0] in message or host in message
    await _guard(allow_private=True).check(url)  # the setting lets it through
    # a gateway on a private network has its storage there too
    await _guard(gateway="http://127.0.0.1:8000").check(url)
    await _guard(gateway="http://10.0.0.2").check(url)


async def test_public_hosts_and_the_gateway_itself_pass():
    guard = _guard()
    await guard.check("https://cdn.example/v.mp4?sig=x")
    await guard.check("https://151.101.1.1/v.mp4")
    await guard.check("https://api.gateway.example/v1/videos/x/content")
    await guard.check("https://unknown-name.example/v.mp4")  # the connection will fail itself
    # the gateway's own host is trusted whatever its address
    local = _guard(gateway="http://169.254.10.10:8080")
    await local.check("http://169.254.10.10:9090/v.mp4")


async def test_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS", "1")
    assert Transport(PUBLIC_GATEWAY, None).allow_private_downloads
    assert not Transport(
        PUBLIC_GATEWAY, None, allow_private_downloads=False
    ).allow_private_downloads
    monkeypatch.delenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS")
    assert not Transport(PUBLIC_GATEWAY, None).allow_private_downloads


async def _video_server(routes: dict[str, Any]) -> tuple[web.AppRunner, int]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


async def test_download_from_a_public_gateway_into_loopback(tmp_path):
    hits: list[str] = []

    async def video(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=b"\0" * 64, content_type="video/mp4")

    runner, port = await _video_server({"/v.mp4": video})
    url = f"http://127.0.0.1:{port}/v.mp4"
    try:
        async with Transport(PUBLIC_GATEWAY, "sk-x", resolver=TableResolver()) as transport:
            with pytest.raises(vg.DownloadError, match=r"127\.0\.0\.1.*private network"):
                await stream_to_file(transport, url, tmp_path / "a.mp4", max_bytes=1000)
            assert hits == [], "refused before any connection"
            assert not list(tmp_path.iterdir()), "no file and no .part left"
            transport.allow_private_downloads = True
            info = await stream_to_file(transport, url, tmp_path / "b.mp4", max_bytes=1000)
            assert info.size == 64 and hits == ["/v.mp4"]
    finally:
        await runner.cleanup()


async def test_a_redirect_into_link_local_is_refused(tmp_path):
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/iam/")

    async def hop_to_name(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://meta.evil.example/x")

    runner, port = await _video_server({"/v.mp4": hop, "/w.mp4": hop_to_name})
    gateway = f"http://127.0.0.1:{port}"
    try:
        async with Transport(
            gateway, "sk-x", resolver=TableResolver(), retry=RetryPolicy(max_attempts=1)
        ) as transport:
            for name in ("v.mp4", "w.mp4"):
                with pytest.raises(vg.DownloadError, match="link-local"):
                    await stream_to_file(
                        transport, f"{gateway}/{name}", tmp_path / name, max_bytes=1000
                    )
            # an API call that the gateway redirects there is refused the same way
            with pytest.raises(vg.DownloadError, match=r"169\.254\.169\.254"):
                await transport.send("GET", "/v.mp4")
    finally:
        await runner.cleanup()


async def test_a_task_pointing_at_the_metadata_service(client_options, tmp_path):
    """End to end: a hostile gateway names 169.254.169.254 as the video URL."""

    async def submit(request: web.Request) -> web.Response:
        return web.json_response({"id": "task_1", "status": "queued"})

    async def poll(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "id": "task_1",
                "status": "succeeded",
                "video_url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            }
        )

    async def content(request: web.Request) -> web.Response:
        return web.Response(status=404, text="no such video")

    app = web.Application()
    app.router.add_post("/v1/video/generations", submit)
    app.router.add_get("/v1/video/generations/{task_id}", poll)
    app.router.add_get("/v1/videos/{task_id}/content", content)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    client = vg.AsyncClient(f"http://127.0.0.1:{port}", "sk-x", dialect="unified", **client_options)
    try:
        with pytest.raises(vg.DownloadError, match=r"169\.254\.169\.254.*link-local"):
            await client.generate(small("x"))
        run = client.run([small("y")], download=False)
        await run
        html = result_html(run.results[0])
    finally:
        await client.aclose()
        await runner.cleanup()
    assert "169.254.169.254" in html and "not shown" in html
    assert "<video" not in html


def test_video_src_never_points_into_link_local_or_private(monkeypatch):
    monkeypatch.delenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS", raising=False)
    for url in (
        "http://169.254.169.254/v.mp4",
        "http://[fe80::1]/v.mp4",
        "http://metadata.google.internal/v.mp4",
        "http://10.0.0.1/v.mp4",
        "http://192.168.1.20/v.mp4",
        "http://[fd00::1]/v.mp4",
    ):
        assert refused_src_reason(url), url
    assert refused_src_reason("https://cdn.example/v.mp4") is None
    assert refused_src_reason("http://127.0.0.1:8000/v.mp4") is None  # a local sandbox
    monkeypatch.setenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS", "1")
    assert refused_src_reason("http://10.0.0.1/v.mp4") is None
    assert refused_src_reason("http://169.254.169.254/v.mp4")
    html = vg.show("http://169.254.169.254/v.mp4")._repr_html_()
    assert "<video" not in html and "not shown" in html


async def test_the_client_setting_reaches_the_transport(client_options, monkeypatch):
    monkeypatch.delenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS", raising=False)
    allowed = vg.AsyncClient(PUBLIC_GATEWAY, "sk-x", allow_private_downloads=True, **client_options)
    default = vg.AsyncClient(PUBLIC_GATEWAY, "sk-x", **client_options)
    try:
        assert allowed._transport.allow_private_downloads
        assert not default._transport.allow_private_downloads
    finally:
        await allowed.aclose()
        await default.aclose()


def test_the_grid_never_uses_a_refused_url_as_src(monkeypatch):
    from videogen_nb.core.task import Task, TaskStatus
    from videogen_nb.display.layout import build_layout, cell_states
    from videogen_nb.display.video import safe_url

    monkeypatch.delenv("VIDEOGEN_ALLOW_PRIVATE_DOWNLOADS", raising=False)
    assert safe_url("http://169.254.169.254/v.mp4") is None
    assert safe_url("http://10.1.1.1/v.mp4") is None
    assert safe_url("https://cdn.example/v.mp4") == "https://cdn.example/v.mp4"
    results = [
        vg.Result(
            request=small(f"p{i}"),
            task=Task(id=f"t{i}", status=TaskStatus.COMPLETED, video_url=url),
        )
        for i, url in enumerate(("http://169.254.169.254/v.mp4", "https://cdn.example/v.mp4"))
    ]
    cells = cell_states(results, build_layout(results), src=lambda _i, _r: None)
    sources = [cell.get("src") for cell in cells]
    assert "http://169.254.169.254/v.mp4" not in sources
    assert "https://cdn.example/v.mp4" in sources
