"""Issue 13, scale: what each finished task costs after its download stays small at
10,000 tasks: the run's spec check reads packets instead of decoding every frame, and the
sweep for a killed process's leftovers lists the output folder once, not once per video."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from tests.support import small
from videogen_nb.tasks import own_files

av = pytest.importorskip("av")

from videogen_nb.insight import probe  # noqa: E402
from videogen_nb.sandbox.render import RenderSpec, render_mp4  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    path.write_bytes(render_mp4(RenderSpec(prompt="p", model="m", width=64, height=64, duration=2)))
    return path


def test_the_packet_probe_measures_what_the_full_decode_does(clip: pathlib.Path) -> None:
    cheap, full = probe.probe_video(clip, decode=False), probe.probe_video(clip)
    assert cheap == full
    assert cheap["decodes_fully"] is True and cheap["frames"] == 24


def test_the_packet_probe_still_catches_a_cut_download(
    clip: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    measured = probe.probe_video(cut, decode=False)
    assert measured["decodes_fully"] is False
    assert "probably truncated" in measured["error"] and "read" in measured["error"]


async def test_a_runs_spec_check_reads_packets_only(sandbox, make_client, monkeypatch) -> None:
    import videogen_nb.insight as insight

    seen: list[bool] = []
    real = insight.check_video

    def spy(path, request, *, decode=True):
        seen.append(decode)
        return real(path, request, decode=decode)

    monkeypatch.setattr(insight, "check_video", spy)
    client = make_client(sandbox)
    run = client.run([small("packets")])
    await run
    assert seen == [False]
    assert run.results[0].spec["measured"]["decodes_fully"] is True


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    return child.pid


def test_the_orphan_sweep_lists_a_folder_once_for_many_videos(
    tmp_path: pathlib.Path, monkeypatch
) -> None:
    monkeypatch.setattr(own_files, "_listings", {})
    listed: list[str] = []
    real_scandir = own_files.os.scandir

    def counting_scandir(path):
        listed.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(own_files.os, "scandir", counting_scandir)
    dead = _dead_pid()
    orphan = tmp_path / f".000007-sora-abc.{dead}-0123abcd.mp4"
    orphan_part = tmp_path / f"..000007-sora-abc.{dead}-0123abcd.mp4.part"
    orphan.write_bytes(b"x")
    orphan_part.write_bytes(b"x")
    for i in range(50):
        (tmp_path / f"{i:06d}-sora-abc.mp4").write_bytes(b"video")
    for i in range(50):
        own_files.sweep_orphans(tmp_path / f"{i:06d}-sora-abc.mp4")
    assert listed == [str(tmp_path)]
    assert not orphan.exists() and not orphan_part.exists()
    assert len(list(tmp_path.iterdir())) == 50


def test_a_stale_listing_is_renewed(tmp_path: pathlib.Path, monkeypatch) -> None:
    monkeypatch.setattr(own_files, "_listings", {})
    target = tmp_path / "000001-sora-abc.mp4"
    own_files.sweep_orphans(target)  # lists the (empty) folder
    orphan = tmp_path / f".000001-sora-abc.{_dead_pid()}-0123abcd.mp4"
    orphan.write_bytes(b"x")
    monkeypatch.setattr(own_files, "_LISTING_TTL", -1.0)
    own_files.sweep_orphans(target)
    assert not orphan.exists()
