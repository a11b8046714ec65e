"""The `heeldrop` command line: a thin table of subcommands.

Each subcommand lives in its own module `heeldrop.cmd_<name>` (imported only
when used) that defines HELP (one line), EPILOG (examples and its exit
codes), add_arguments(p) and run(args) -> exit code.

Nothing reaches the user as a traceback:
- heeldrop.errors.UserError: one line, its own exit code;
- OSError (a file or folder that cannot be read or written): one line naming
  the path and what to do, exit 2 (heeldrop.errors.describe_oserror);
- Ctrl-C at any moment, from the first line of this module on: one line,
  exit 130 (before the command runs, a signal handler exits at once; while
  it runs, KeyboardInterrupt unwinds so files are closed);
- a bug: one line naming a file that holds the details, exit 70
  (HEELDROP_DEBUG=1 shows the traceback instead).
"""
import os
import signal
import sys

import heeldrop
from heeldrop import _exit_interrupted

# heeldrop/__init__.py installed the early Ctrl-C handler when heeldrop is the program;
# python -m heeldrop.cli counts too
_PROGRAM = heeldrop._PROGRAM or __name__ == "__main__"
if _PROGRAM:
    signal.signal(signal.SIGINT, _exit_interrupted)

import argparse  # noqa: E402
import importlib  # noqa: E402

from heeldrop import __version__  # noqa: E402
from heeldrop.errors import EXIT_BUG, EXIT_INTERRUPTED, UserError, describe_oserror, report_bug  # noqa: E402

# name -> module (in the order shown by --help)
COMMANDS = {
    "replay": "heeldrop.cmd_replay",
    "evaluate": "heeldrop.cmd_evaluate",
    "demo": "heeldrop.cmd_demo",
    "live": "heeldrop.cmd_live",
    "ports": "heeldrop.cmd_ports",
    "sessions": "heeldrop.cmd_sessions",
    "download": "heeldrop.cmd_download",
    "config": "heeldrop.cmd_config",
    "side": "heeldrop.cmd_side",
    "calibrate": "heeldrop.cmd_calibrate",
    "deploy": "heeldrop.cmd_deploy",
    "doctor": "heeldrop.cmd_doctor",
    "synth": "heeldrop.cmd_synth",
    "report": "heeldrop.cmd_report",
    "import": "heeldrop.cmd_import",
    "history": "heeldrop.cmd_history",
    "convert": "heeldrop.cmd_convert",
    "events": "heeldrop.cmd_events",
    "sim": "heeldrop.cmd_sim",
}

# The exit codes every command shares, added under each command's own.
COMMON_EXIT = ("every command: 2 also for bad usage and for a file or folder that cannot be read or\n"
               "written (missing, no permission, disk full), 130 interrupted (Ctrl-C), 70 internal error\n"
               "(a bug: the message names a file with the details; please report it).")


def build_parser():
    p = argparse.ArgumentParser(
        prog="heeldrop",
        description="Coach the single heel drop Achilles stretch: replay traces, run the virtual device, report.",
        epilog="Run 'heeldrop COMMAND --help' for a command's options, examples and exit codes.\n\n"
               "exit status: 0 ok; each command's help lists its own codes.\n" + COMMON_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-V", "--version", action="version", version="heeldrop " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        epilog = getattr(mod, "EPILOG", None)
        epilog = (epilog + "\n" if epilog else "") + COMMON_EXIT
        sp = sub.add_parser(
            name, help=mod.HELP, description=mod.HELP, epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return p


def _quiet_stdout():
    """After a broken pipe (`heeldrop replay x | head`): send what is left to /dev/null,
    so that the interpreter's last flush does not complain."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    try:
        p = build_parser()
        args = p.parse_args(argv)
    except KeyboardInterrupt:  # only when imported (as the program, the handler exits first)
        print("heeldrop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not getattr(args, "_run", None):
        p.print_help()
        return 2
    name = args.command
    try:
        if _PROGRAM:
            # from here KeyboardInterrupt unwinds the command (its finally blocks and
            # with statements close files and ports); the except below says so
            signal.signal(signal.SIGINT, signal.default_int_handler)
        return args._run(args) or 0
    except UserError as e:
        print("heeldrop %s: %s" % (name, e), file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("heeldrop %s: interrupted" % name, file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except OSError as e:
        print("heeldrop %s: %s" % (name, describe_oserror(e)), file=sys.stderr)
        return 2
    except MemoryError:
        print("heeldrop %s: out of memory; close other programs or give a smaller file" % name, file=sys.stderr)
        return EXIT_BUG
    except Exception as e:  # noqa: BLE001 - the last line of defence: a bug
        if os.environ.get("HEELDROP_DEBUG"):
            raise
        print("heeldrop %s: %s" % (name, report_bug(e, argv if argv is not None else sys.argv[1:])),
              file=sys.stderr)
        return EXIT_BUG
    finally:
        if _PROGRAM:
            # a Ctrl-C while the interpreter shuts down: no traceback either
            signal.signal(signal.SIGINT, _exit_interrupted)
            try:
                sys.stdout.flush()
            except BrokenPipeError:
                _quiet_stdout()
            except (OSError, ValueError):
                pass


if __name__ == "__main__":
    sys.exit(main())
