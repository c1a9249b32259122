"""Command-line interface: ``cinemagraph3d animate | render | demo | layers | ...``.

The parser lives in :mod:`.parser`, the built-in commands in :mod:`.commands`, further
sub-commands in their own modules (:mod:`.eval`, :mod:`.models`, :mod:`.batch`, ...). User errors
print one line ``cinemagraph3d: error: ...`` (field names of the library translated to the
flags, :func:`~.parser.flag_name`) and exit with status 2; no partial output file is ever left.
"""

from __future__ import annotations

import sys
import warnings

from ..errors import Cinemagraph3DError, InputError
from .commands import run as _run
from .parser import _BUILTIN, build_parser, flag_name

__all__ = ["main", "build_parser"]


class _Terminated(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so every temporary output is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _as_flags(exc: InputError) -> str:
    """The error's message with its field name as the flag that sets it."""
    name = flag_name(exc.name)
    text = str(exc)
    return name + text[len(exc.name) :] if text.startswith(exc.name) else text


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class _Notes:
    """A logging handler that keeps the library's log lines (one line each, no repeats) for the
    end of a successful run."""

    level = 0

    def __init__(self) -> None:
        self.lines: list[str] = []

    def handle(self, record) -> bool:
        line = _one_line(record.getMessage())
        if record.levelno >= 20 and line not in self.lines:
            self.lines.append(line)
        return True

    def __getattr__(self, name):  # the rest of the Handler interface is not needed
        raise AttributeError(name)


def _own_warnings(caught) -> list[str]:
    """The distinct warnings raised by cinemagraph3d itself (library warnings of torch & co. are
    dropped: they are not the user's business), as one line each."""
    seen: list[str] = []
    for w in caught:
        if "cinemagraph3d" in str(getattr(w, "filename", "")):
            line = _one_line(w.message)
            if line not in seen:
                seen.append(line)
    return seen


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cinemagraph3d`` command; returns the exit status.

    User errors print exactly one line ``cinemagraph3d: error: ...`` and return 2 (argument
    errors too: argparse exits with 2 after one line). SIGINT, SIGTERM and SIGHUP stop the run,
    delete its temporary outputs and return 130, 143 and 129.
    """
    import _thread
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    # The built-in commands parse without importing the plugins (eval & co. load torch).
    parser = build_parser(plugins=not (argv and argv[0] in _BUILTIN))
    args = parser.parse_args(argv)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        from .._signals import hold_back

        def _stop(signum, frame):
            if not hold_back(signum):  # else raised again when the step that held it has ended
                raise _Terminated(signum)

        def _interrupt(signum, frame):
            if not hold_back(signum):
                raise KeyboardInterrupt

        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                handlers[sig] = signal.signal(sig, _stop)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            handlers[signal.SIGINT] = signal.signal(signal.SIGINT, _interrupt)
        # A handler runs at the next bytecode of the main thread, which may be inside a callback
        # whose exceptions Python ignores (an at-fork hook when the encoder is started, a
        # __del__, a weakref finaliser): the _Terminated would be printed as "Exception ignored"
        # and the render would go on to write its output. Deliver the signal again instead, from
        # a helper thread so that it is handled once this hook and that callback have returned
        # (if it lands in such a callback again, it is delivered again).
        previous_hook = sys.unraisablehook

        def _redeliver(signum):
            import time

            time.sleep(0.01)  # this hook and the callback that ignored the signal have returned
            _thread.interrupt_main(signum)

        def _unraisable(info):
            if isinstance(info.exc_value, _Terminated):  # from another thread: not in this hook
                _thread.start_new_thread(_redeliver, (info.exc_value.signum,))  # does not wait
            else:
                previous_hook(info)

        sys.unraisablehook = _unraisable
    import logging

    logger = logging.getLogger("cinemagraph3d")
    notes = _Notes()
    saved = (logger.handlers[:], logger.propagate)
    logger.handlers[:] = [notes]
    logger.propagate = False  # the library's notes are shown after a successful run only
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = _run(args)
        for line in notes.lines:
            print(f"cinemagraph3d: note: {line}", file=sys.stderr)
        for line in _own_warnings(caught):
            print(f"cinemagraph3d: warning: {line}", file=sys.stderr)
        return code
    except InputError as exc:
        print(f"cinemagraph3d: error: {_one_line(_as_flags(exc))}", file=sys.stderr)
        return 2
    except Cinemagraph3DError as exc:
        print(f"cinemagraph3d: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions changed mid-run, ...: one line, not a traceback
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"cinemagraph3d: error: system error{where}: {_one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "cinemagraph3d: error: out of memory (try a smaller --max-side or fewer --loop-steps)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("cinemagraph3d: interrupted", file=sys.stderr)
        return 130
    except _Terminated as exc:
        print(f"cinemagraph3d: terminated by signal {exc.signum}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        import signal as _signal

        for sig, old in handlers.items():
            _signal.signal(sig, old)
        if handlers:
            sys.unraisablehook = previous_hook
        logger.handlers[:], logger.propagate = saved


if __name__ == "__main__":
    sys.exit(main())
