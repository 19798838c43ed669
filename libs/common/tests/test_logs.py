"""Every log line is scrubbed, whatever field (message, extra, traceback) carries the key."""

import logging
import sys

from gempool.common.logs import JsonFormatter

KEY = "AIzaSyAhTarnL1PaQn_yu_uVf0gia9wUyJx8RSI"


def _line(record: logging.LogRecord) -> str:
    return JsonFormatter("test").format(record)


def test_message_extras_and_tracebacks_never_print_a_whole_key() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "key %s retired", (KEY,), None)
    record.reason = f"Consumer 'api_key:{KEY}' has been suspended."
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = _line(record)
    assert KEY not in line
    assert line.count("AIza...8RSI") == 3
