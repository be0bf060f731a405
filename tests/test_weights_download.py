"""The ImageNet download: its own timeout, never the process's socket
default, which the page's worker threads share."""

import email.message
import hashlib
import io
import socket
import urllib.request

import pytest

from tfstyle.errors import WeightsError
from tfstyle.weights import sources


class Response(io.BytesIO):
    """What urlopen returns, as far as a download reads it."""

    def info(self):
        headers = email.message.Message()
        headers["Content-Length"] = str(len(self.getvalue()))
        return headers


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A download server faked at urllib's opener, which records the timeout
    it was given and the process's socket default at that moment."""
    body = b"pretend hdf5 " * 1000
    seen = []

    def urlopen(url, data=None, timeout=None, **kwargs):
        seen.append({"url": url, "timeout": timeout, "default": socket.getdefaulttimeout()})
        return Response(body)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(sources, "unreachable", lambda url, timeout: None)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(sources, "IMAGENET_MD5", hashlib.md5(body).hexdigest())
    return body, seen


def test_the_download_has_its_own_timeout_and_leaves_the_socket_default_alone(server):
    body, seen = server
    before = socket.getdefaulttimeout()
    path = sources.imagenet_weights_path()
    assert [(s["url"], s["timeout"], s["default"]) for s in seen] == \
        [(sources.IMAGENET_URL, 60.0, before)]  # its own 60 s, the default untouched
    assert socket.getdefaulttimeout() == before
    assert path == sources.keras_cache_dir() / sources.IMAGENET_FILE
    assert path.read_bytes() == body
    assert sources.imagenet_weights_path() == path and len(seen) == 1  # cached now


def test_a_download_that_does_not_match_the_hash_is_refused_and_removed(server, monkeypatch):
    monkeypatch.setattr(sources, "IMAGENET_MD5", "0" * 32)
    with pytest.raises(WeightsError, match="published hash.*--weights procedural"):
        sources.imagenet_weights_path()
    assert list(sources.keras_cache_dir().iterdir()) == []


def test_a_transfer_cut_midway_is_one_weights_error_and_leaves_no_file(server, monkeypatch):
    body, _ = server

    class Cut(Response):
        def read(self, size=-1):
            if self.tell() > len(body) // 2:
                raise TimeoutError("timed out")
            return super().read(size)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None, **kw: Cut(body))
    with pytest.raises(WeightsError, match=r"^downloading ImageNet VGG19 weights failed: the "
                                           r"transfer broke \(TimeoutError: timed out\).*--weights procedural"):
        sources.imagenet_weights_path()
    assert list(sources.keras_cache_dir().iterdir()) == []  # no half file, no temporary one
