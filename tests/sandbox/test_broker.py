"""sandbox.broker: the embedded broker writes each message whole before a worker can see it."""

from __future__ import annotations

from queue import Empty
from unittest.mock import patch

import pytest
from kombu import Connection


@pytest.fixture
def channel(tmp_path):
    folders = {
        "data_folder_in": tmp_path / "queue",
        "data_folder_out": tmp_path / "queue",
        "processed_folder": tmp_path / "processed",
        "control_folder": tmp_path / "control",
    }
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    options = {key: str(folder) for key, folder in folders.items()}
    with Connection("filesystem://", transport="sandbox.broker:Transport") as connection:
        connection.transport_options.update(options)
        yield connection.channel()


def test_a_message_put_is_the_message_got(channel):
    channel._put("celery", {"body": "hello"})
    assert channel._get("celery") == {"body": "hello"}


def test_a_message_being_written_is_invisible_to_the_worker(channel, tmp_path):
    # Stop the write before its rename, as a reader polling at that moment would find it.
    with patch("sandbox.broker.os.replace", side_effect=OSError("interrupted")):
        with pytest.raises(OSError):
            channel._put("celery", {"body": "hello"})
    written = list((tmp_path / "queue").iterdir())
    assert [p.name.endswith(".celery.msg.part") for p in written] == [True]
    with pytest.raises(Empty):
        channel._get("celery")  # the old transport would read it half written, and die


def test_a_cloned_connection_does_not_warn_about_a_missing_host(caplog):
    """kombu warns "No hostname was supplied" for a hostless URL unless the transport has no
    default host; a re-import printed it on every publish."""
    with Connection("filesystem://", transport="sandbox.broker:Transport") as connection:
        connection.clone().release()
    assert "No hostname" not in caplog.text
