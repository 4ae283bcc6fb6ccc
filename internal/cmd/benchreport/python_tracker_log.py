"""Per-line cost of the Python original's Tracker.log, measured as the Go
benchmarks measure pigging: the same 52-byte line, appended to a fresh file
in a temporary directory, one record per call.

The original Tracker logs with the standard logging module: basicConfig with
a FileHandler on the log path and the format below, then logging.info per
call. FileHandler flushes after each record, so each record reaches the
kernel with one write(2), as in pigging. The floor here is os.write of the
preformatted line on an O_APPEND descriptor, from Python.

Prints one JSON object: nanoseconds per call for each of the repeats.
"""

import json
import logging
import os
import sys
import tempfile
import timeit

LINE = b"2026-11-27 20:17:06,123 | INFO: copied batch rows=3\n"
MSG = "copied batch rows=3"


def main():
    number = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as d:
        logging.basicConfig(
            filename=os.path.join(d, "tracker.log"),
            filemode="w",
            format="%(asctime)s | %(levelname)s: %(message)s",
            level=logging.INFO,
        )
        log = timeit.repeat(lambda: logging.info(MSG), number=number, repeat=repeat)
        logging.shutdown()

        fd = os.open(os.path.join(d, "floor.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        try:
            floor = timeit.repeat(lambda: os.write(fd, LINE), number=number, repeat=repeat)
        finally:
            os.close(fd)
    print(json.dumps({
        "tracker_log_ns": [t / number * 1e9 for t in log],
        "os_write_ns": [t / number * 1e9 for t in floor],
    }))


if __name__ == "__main__":
    main()
