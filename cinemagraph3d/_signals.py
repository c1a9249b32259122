"""Stop signals held back while the main thread does something that must not be cut in two.

The CLI turns SIGTERM and SIGHUP into an exception that unwinds the run and deletes every
temporary output. Such an exception can arrive at any bytecode, and a few steps break if it lands
in their middle: starting the encoder (an exception inside ``subprocess.Popen`` after the fork
leaves an ffmpeg that nobody waits for, which goes on to create the temporary output again after
it was deleted), or creating a temporary output before the ``with`` statement that removes it is
entered. :func:`held` marks such a step: a handler that calls :func:`hold_back` while one runs
records the signal instead of raising, and the signal is raised again (to the same handler) when
the step has ended, so the run stops right after it with everything in place to clean up.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_depth = 0  # nesting depth of held() in the main thread
_pending: list[int] = []  # signals that arrived while held


def hold_back(signum: int) -> bool:
    """For a signal handler: ``True`` (the signal is recorded and raised again once the current
    :func:`held` step ends) when the main thread is inside such a step, else ``False`` (handle it
    now)."""
    if _depth > 0:
        if signum not in _pending:
            _pending.append(signum)
        return True
    return False


@contextlib.contextmanager
def held():
    """Run the ``with`` block with stop signals held back (see the module docstring); only the
    main thread's blocks hold anything (signal handlers run in the main thread)."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending:
            signums = _pending[:]
            _pending.clear()
            for signum in signums:
                signal.raise_signal(signum)  # the handler runs now, outside the step
