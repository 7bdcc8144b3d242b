#!/usr/bin/python3
"""slowpipe.py RATE COMMAND [ARGS...]: runs COMMAND with our stdin passed to it at most RATE
bytes a second (its stdout and stderr are ours); exits with its status. The migration tests
put it in front of ssh so that a migration lasts long enough to be cancelled."""

import os
import select
import subprocess
import sys
import time


def main():
    rate = int(sys.argv[1])
    child = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, bufsize=0)
    chunk = max(1, rate // 20)
    t0 = time.monotonic()
    sent = 0
    try:
        while True:
            # ssh makes its stdout non-blocking, and our stdin shares that socket with it.
            select.select([0], [], [])
            try:
                data = os.read(0, chunk)
            except BlockingIOError:
                continue
            if not data:
                break
            view = memoryview(data)
            while view:
                n = child.stdin.write(view)
                view = view[n or 0:]
            sent += len(data)
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    except (BrokenPipeError, OSError):
        pass
    try:
        child.stdin.close()
    except OSError:
        pass
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
