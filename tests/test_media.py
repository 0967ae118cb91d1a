"""Media normalisation: every input kind, MIME sniffing from content, size limit, errors."""

from __future__ import annotations

import base64
import io
import os
import pathlib

import pytest
from PIL import Image

from videogen_nb.core import media
from videogen_nb.core.errors import ValidationError
from videogen_nb.core.media import (
    DEFAULT_MAX_IMAGE_BYTES,
    decode_data_uri,
    describe_media,
    is_url,
    max_image_bytes,
    normalize_media,
    set_max_image_bytes,
    sniff_image_mime,
)

FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


def image_bytes(fmt: str, size: tuple[int, int] = (8, 6), color: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def split(uri: str) -> tuple[str, bytes]:
    mime, data = decode_data_uri(uri)
    assert uri.startswith(f"data:{mime};base64,")
    return mime, data


@pytest.fixture
def restore_limit():
    before = max_image_bytes()
    yield
    set_max_image_bytes(before)


# ---- every input kind --------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), FORMATS.items())
def test_path_object_becomes_data_uri_with_sniffed_mime(tmp_path, fmt, mime):
    data = image_bytes(fmt)
    path = tmp_path / f"frame.{fmt.lower()}"
    path.write_bytes(data)
    assert split(normalize_media(path, "image")) == (mime, data)


@pytest.mark.parametrize(("fmt", "mime"), FORMATS.items())
def test_path_string_bytes_and_base64_give_the_same_uri(tmp_path, fmt, mime):
    data = image_bytes(fmt)
    path = tmp_path / "frame.img"
    path.write_bytes(data)
    from_path = normalize_media(str(path), "image")
    assert split(from_path) == (mime, data)
    assert normalize_media(data, "image") == from_path
    assert normalize_media(bytearray(data), "image") == from_path
    assert normalize_media(memoryview(data), "image") == from_path
    assert normalize_media(base64.b64encode(data).decode(), "image") == from_path


def test_mime_comes_from_content_not_name(tmp_path):
    png = tmp_path / "really_a_png.jpg"
    png.write_bytes(image_bytes("PNG"))
    assert normalize_media(png, "image").startswith("data:image/png;base64,")
    jpeg = tmp_path / "really_a_jpeg.png"
    jpeg.write_bytes(image_bytes("JPEG"))
    assert normalize_media(jpeg, "image").startswith("data:image/jpeg;base64,")


def test_text_file_named_png_is_rejected(tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_text("just some notes, not pixels\n" * 10)
    with pytest.raises(ValidationError) as info:
        normalize_media(fake, "image")
    assert info.value.field == "image"
    assert "not an image" in info.value.message
    assert "PNG" in info.value.message  # says which kinds are accepted


def test_empty_file_is_rejected_as_empty(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty"):
        normalize_media(empty, "last_image")


def test_home_relative_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "start.png").write_bytes(image_bytes("PNG"))
    assert normalize_media("~/start.png", "image").startswith("data:image/png;base64,")


@pytest.mark.parametrize("as_path", [True, False])
def test_missing_file_names_field_and_path(tmp_path, as_path):
    missing = tmp_path / "nope" / "frame.png"
    value = missing if as_path else str(missing)
    with pytest.raises(ValidationError) as info:
        normalize_media(value, "images[1]")
    assert info.value.field == "images[1]"
    assert "no such file" in info.value.message
    assert "frame.png" in info.value.message
    assert str(info.value).startswith("images[1]: ")


def test_relative_missing_name_is_reported_as_missing_file():
    with pytest.raises(ValidationError, match=r"no such file: 'cat\.png'"):
        normalize_media("cat.png", "image")


def test_directory_is_rejected(tmp_path):
    with pytest.raises(ValidationError, match="directory"):
        normalize_media(tmp_path, "image")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "http://127.0.0.1:8000/a%20b.jpg?sig=abc&x=1#frag",
        "HTTPS://Example.com/Upper.PNG",
        "https://example.com/no-extension",
    ],
)
def test_url_passes_through_untouched(url):
    assert normalize_media(url, "input_reference") == url
    assert is_url(url)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://", "no host"),
        ("https:///path-only.png", "no host"),
        ("ftp://example.com/cat.png", "ftp://"),
        ("file:///tmp/cat.png", "pathlib.Path"),
    ],
)
def test_unusable_urls_are_rejected(value, expected):
    with pytest.raises(ValidationError) as info:
        normalize_media(value, "image")
    assert info.value.field == "image"
    assert expected in info.value.message


def test_data_uri_is_checked_and_made_canonical():
    data = image_bytes("PNG")
    encoded = base64.b64encode(data).decode()
    good = f"data:image/png;base64,{encoded}"
    assert normalize_media(good, "image") == good
    # A wrong declared type is corrected from the bytes.
    assert normalize_media(f"data:image/jpeg;base64,{encoded}", "image") == good
    assert normalize_media(f"DATA:application/octet-stream;BASE64,{encoded}", "image") == good


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("data:image/png;base64", "no ','"),
        ("data:image/png;base64,***not base64***", "invalid base64"),
        ("data:text/plain;base64," + base64.b64encode(b"hello there").decode(), "not an image"),
        ("data:image/png;base64,", "empty"),
    ],
)
def test_bad_data_uris_are_rejected(uri, expected):
    with pytest.raises(ValidationError) as info:
        normalize_media(uri, "last_image")
    assert info.value.field == "last_image"
    assert expected in info.value.message


def test_raw_base64_variants():
    data = image_bytes("JPEG")
    encoded = base64.b64encode(data).decode()
    assert encoded.startswith("/9j/")  # looks like an absolute path, must still be base64
    want = "data:image/jpeg;base64," + encoded
    assert normalize_media(encoded, "image") == want
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert normalize_media(wrapped, "image") == want
    assert normalize_media(encoded.rstrip("="), "image") == want
    urlsafe = base64.urlsafe_b64encode(data).decode()
    assert normalize_media(urlsafe, "image") == want


def test_base64_of_non_image_is_rejected():
    text = base64.b64encode(b"plain text, not an image " * 20).decode()
    with pytest.raises(ValidationError, match="base64 data is not an image"):
        normalize_media(text, "image")


def test_short_nonsense_string_says_what_is_accepted():
    with pytest.raises(ValidationError) as info:
        normalize_media("abcdefghijklmnopqrst", "image")
    assert "URL" in info.value.message and "base64" in info.value.message


@pytest.mark.parametrize("value", ["", "   ", 42, 3.5, {"url": "x"}, ["https://e.com/a.png"]])
def test_wrong_kinds_are_rejected(value):
    with pytest.raises(ValidationError) as info:
        normalize_media(value, "image")
    assert info.value.field == "image"
    assert "URL" in info.value.message


def test_pil_images(tmp_path):
    rgb = Image.new("RGB", (10, 7), "blue")
    mime, data = split(normalize_media(rgb, "image"))
    assert mime == "image/png"
    assert Image.open(io.BytesIO(data)).size == (10, 7)

    rgba = Image.new("RGBA", (4, 4), (1, 2, 3, 128))
    mime, data = split(normalize_media(rgba, "image"))
    assert mime == "image/png"
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (1, 2, 3, 128)

    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes("JPEG", (16, 16)))
    with Image.open(path) as opened:
        mime, data = split(normalize_media(opened, "image"))
    assert mime == "image/jpeg"  # a photo stays JPEG instead of growing as PNG
    assert Image.open(io.BytesIO(data)).size == (16, 16)

    mime, _ = split(normalize_media(Image.new("F", (3, 3)), "image"))
    assert mime == "image/png"


# ---- size limit --------------------------------------------------------------------------


def test_default_limit_is_10_mb():
    assert DEFAULT_MAX_IMAGE_BYTES == 10 * 1024 * 1024
    header = image_bytes("PNG")
    at_limit = header + bytes(DEFAULT_MAX_IMAGE_BYTES - len(header))
    assert normalize_media(at_limit, "image").startswith("data:image/png;base64,")
    with pytest.raises(ValidationError) as info:
        normalize_media(at_limit + b"\0", "image")
    assert "10.0 MB" in info.value.message
    assert "set_max_image_bytes" in info.value.message


def test_limit_is_settable(tmp_path, restore_limit):
    data = image_bytes("PNG", (64, 64), "red")
    path = tmp_path / "frame.png"
    path.write_bytes(data)
    set_max_image_bytes(len(data) - 1)
    assert max_image_bytes() == len(data) - 1
    for value in (path, str(path), data, base64.b64encode(data).decode()):
        with pytest.raises(ValidationError) as info:
            normalize_media(value, "images[0]")
        assert info.value.field == "images[0]"
        assert "over the" in info.value.message
    # A per-call limit wins over the process-wide one.
    assert normalize_media(path, "image", max_bytes=len(data)).startswith("data:image/png")
    set_max_image_bytes(len(data))
    assert normalize_media(path, "image").startswith("data:image/png")


def test_limit_applies_to_pil_and_data_uri(restore_limit):
    set_max_image_bytes(100)
    with pytest.raises(ValidationError, match="PIL image"):
        normalize_media(Image.effect_noise((64, 64), 50), "image")
    uri = "data:image/png;base64," + base64.b64encode(image_bytes("PNG", (64, 64))).decode()
    with pytest.raises(ValidationError, match="over the"):
        normalize_media(uri, "image")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", True, None])
def test_bad_limits_are_rejected(bad, restore_limit):
    with pytest.raises(ValidationError) as info:
        set_max_image_bytes(bad)
    assert info.value.field == "max_image_bytes"
    assert max_image_bytes() == DEFAULT_MAX_IMAGE_BYTES


# ---- helpers -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime"), FORMATS.items())
def test_sniff_real_images(fmt, mime):
    assert sniff_image_mime(image_bytes(fmt)) == mime


@pytest.mark.parametrize(
    "data",
    [b"", b"BM", b"BMW is a car brand, not a bitmap header", b"RIFF\0\0\0\0WAVEfmt ", b"%PDF-1.7"],
)
def test_sniff_rejects_non_images(data):
    assert sniff_image_mime(data) is None


def test_sniff_heif_family():
    assert sniff_image_mime(b"\0\0\0\x1cftypavif" + bytes(16)) == "image/avif"
    assert sniff_image_mime(b"\0\0\0\x18ftypheic" + bytes(16)) == "image/heic"
    assert sniff_image_mime(b"\0\0\0\x18ftypisom" + bytes(16)) is None  # an MP4


def test_decode_data_uri_forms():
    assert decode_data_uri("data:image/gif;base64,R0lGODlh") == ("image/gif", b"GIF89a")
    assert decode_data_uri("data:,a%20b") == ("text/plain", b"a b")
    with pytest.raises(ValueError):
        decode_data_uri("https://example.com")


def test_describe_media_shortens_only_long_values():
    uri = "data:image/png;base64," + "A" * 400_000
    short = describe_media(uri)
    assert len(short) < 80
    assert short.startswith("data:image/png;base64,")
    assert "293.0 kB" in short
    assert describe_media("https://example.com/a.png") == "https://example.com/a.png"
    assert len(describe_media("x" * 10_000)) < 150


def test_module_exports_are_documented():
    for name in media.__all__:
        obj = getattr(media, name)
        if callable(obj):
            assert obj.__doc__, name
    assert isinstance(pathlib.Path(media.__file__), pathlib.Path)


# --- issue 12, item 4: only regular files are read, and only up to the bound ---------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("as_path", [True, False])
def test_dev_zero_is_refused_not_read(as_path):
    value = pathlib.Path("/dev/zero") if as_path else "/dev/zero"
    with pytest.raises(ValidationError) as caught:
        normalize_media(value, "image")
    assert caught.value.field == "image"
    assert "is a device, not an image file" in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("as_path", [True, False])
@pytest.mark.timeout(10)
def test_a_named_pipe_with_no_writer_is_refused_not_waited_on(tmp_path, as_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError) as caught:
        normalize_media(fifo if as_path else str(fifo), "input_reference")
    assert caught.value.field == "input_reference"
    assert "is a named pipe, not an image file" in str(caught.value)


@pytest.mark.parametrize("as_path", [True, False])
def test_a_directory_is_refused(tmp_path, as_path):
    with pytest.raises(ValidationError, match="is a directory, not an image file") as caught:
        normalize_media(tmp_path if as_path else str(tmp_path), "last_image")
    assert caught.value.field == "last_image"


def test_a_file_over_the_bound_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(5000))
    with pytest.raises(ValidationError, match=r"over the 4\.0 kB limit") as caught:
        normalize_media(big, "images[0]", max_bytes=4096)
    assert caught.value.field == "images[0]"
    # exactly at the bound is fine
    ok = tmp_path / "ok.png"
    ok.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4088))
    assert normalize_media(ok, "image", max_bytes=4096).startswith("data:image/png;base64,")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "cat.png"
    os.symlink("/dev/zero", link)
    with pytest.raises(ValidationError, match="is a device"):
        normalize_media(link, "image")
