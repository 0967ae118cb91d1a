"""core.errors: the exception tree and the attributes its classes carry."""

from __future__ import annotations

import pytest

from videogen_nb.core import errors
from videogen_nb.core.errors import (
    APIConnectionError,
    DownloadError,
    DownloadExpiredError,
    SubmitOutcomeUnknownError,
    VideoGenError,
)


def test_every_exported_error_is_in_the_tree_drawn_in_the_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, VideoGenError)
            assert f" {name} " in doc or f"─ {name} " in doc, name


def test_download_expired_is_a_download_error_and_still_importable_from_download() -> None:
    from videogen_nb.http import download

    assert download.DownloadExpiredError is DownloadExpiredError
    error = DownloadExpiredError("gone", url="https://cdn.example/v.mp4", status_code=410)
    assert isinstance(error, DownloadError)
    assert error.expired and error.status_code == 410 and error.url.endswith("v.mp4")
    assert DownloadError("too big").expired is False


def test_connection_error_carries_transient_and_attempts() -> None:
    error = APIConnectionError("GET /v1/models: could not connect")
    assert error.transient and error.attempts == 1
    assert str(error) == "GET /v1/models: could not connect"
    error.gave_up_after(4)
    assert error.attempts == 4
    assert str(error) == "GET /v1/models: could not connect (gave up after 4 attempts)"
    assert not APIConnectionError("bad certificate", transient=False).transient


def test_submit_outcome_unknown_keeps_the_connection_error_shape() -> None:
    error = SubmitOutcomeUnknownError("POST /v1/videos: reset", transient=True)
    assert isinstance(error, APIConnectionError) and error.message == "POST /v1/videos: reset"
    with pytest.raises(APIConnectionError):
        raise error
