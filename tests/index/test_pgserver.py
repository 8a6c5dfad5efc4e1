"""The test server fixture itself: a killed test process must not leave PostgreSQL running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from pgserver import start_server
    url, pid, stop = start_server()
    print(pid, flush=True)
    time.sleep(120)
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_killed_test_process_leaves_no_server_running():
    tests = str(Path(__file__).parent.parent)
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=tests)],
                             stdout=subprocess.PIPE, text=True)
    pid = int(child.stdout.readline())
    assert alive(pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 15
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
