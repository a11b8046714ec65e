"""The `heeldrop` command line: a thin table of subcommands.

Each subcommand lives in its own module `heeldrop.cmd_<name>` (imported only
when used) that defines HELP (one line), EPILOG (examples), add_arguments(p)
and run(args) -> exit code. Errors meant for the user are raised as
heeldrop.errors.UserError and printed as one line, never a traceback.
"""
import argparse
import importlib
import sys

from heeldrop import __version__
from heeldrop.errors import UserError

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


def build_parser():
    p = argparse.ArgumentParser(
        prog="heeldrop",
        description="Coach the single heel drop Achilles stretch: replay traces, run the virtual device, report.",
        epilog="Run 'heeldrop COMMAND --help' for a command's options and examples.",
    )
    p.add_argument("--version", action="version", version="heeldrop " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        sp = sub.add_parser(
            name, help=mod.HELP, description=mod.HELP, epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(sp)
        sp.set_defaults(_run=mod.run)
    return p


def main(argv=None):
    p = build_parser()
    args = p.parse_args(argv)
    if not getattr(args, "_run", None):
        p.print_help()
        return 2
    try:
        return args._run(args) or 0
    except UserError as e:
        print("heeldrop %s: %s" % (args.command, e), file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("heeldrop %s: interrupted" % args.command, file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
