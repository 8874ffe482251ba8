"""The one way pc6band reads a file a person named: a regular file, of bounded size.

A path from a person (a profile, the config, an import, the web token file) may name a
FIFO, a device such as ``/dev/zero``, or a file far too large: read naively, the first hangs
forever and the second uses up all memory. Everything read from a user's path goes through
:func:`read_regular` (whole, with a size cap) or :func:`open_regular` (streamed), which open
without blocking, look at what the descriptor really is, and refuse with a one-line reason.

The refusal is an :class:`UnsuitableFile`, an ``OSError`` whose ``strerror`` is the reason,
so callers that already turn ``OSError`` into their own one-line error keep doing so.
"""

from __future__ import annotations

import os
import stat

# Neither pathlib nor typing at run time: `pc6 ctl` (the stop button) reads its config through
# here, and those imports would be a tenth of its start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    StrPath = str | os.PathLike[str]

#: The cap for a profile, a config file or a token file: far above any real one.
MAX_TEXT_BYTES = 1 << 20


class UnsuitableFile(OSError):
    """The path names something other than a regular file, or a file too large."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)

    def __str__(self) -> str:
        return self.strerror or ""


def _describe(limit: int) -> str:
    if limit % (1 << 20) == 0:
        return f"{limit >> 20} MiB"
    return f"{limit} bytes"


def open_regular(path: StrPath, *, limit: int | None = None, what: str = "a file") -> BinaryIO:
    """Open ``path`` for reading in binary, refusing anything but a regular file.

    Args:
        path: the file (a symlink is followed, then judged by what it points at).
        limit: the largest size accepted, in bytes; ``None`` for a file that is streamed.
        what: what the file is, for the size message ("larger than a profile may be").

    Raises:
        UnsuitableFile: not a regular file, or larger than ``limit``.
        OSError: the file cannot be opened (missing, permission ...).
    """
    # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsuitableFile("not a regular file")
        if limit is not None and info.st_size > limit:
            raise UnsuitableFile(f"larger than {what} may be ({_describe(limit)})")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: StrPath, *, limit: int = MAX_TEXT_BYTES, what: str = "a file") -> bytes:
    """The whole of a regular file of at most ``limit`` bytes.

    A file that grows past the cap while it is read is refused too.

    Raises:
        UnsuitableFile: not a regular file, or larger than ``limit``.
        OSError: the file cannot be opened or read.
    """
    with open_regular(path, limit=limit, what=what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsuitableFile(f"larger than {what} may be ({_describe(limit)})")
    return data


def reason(err: OSError) -> str:
    """The one-line reason of an ``OSError``, never empty."""
    return err.strerror or str(err) or type(err).__name__
