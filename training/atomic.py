"""Files written all or nothing: a reader never sees half a file, and a failure leaves none."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def written_atomically(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it when the block ends without error.

    On any error (an interrupt included) the temporary file is removed and ``target`` is left as
    it was.
    """
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
