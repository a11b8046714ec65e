"""heeldrop evaluate: score the engine against the labelled, simulated corpus."""
import os

from heeldrop.configfile import load_config
from heeldrop.errors import UserError

HELP = "score the detection engine on the labelled corpus (reps, depth, hold, fault flags)"
EPILOG = """examples:
  heeldrop evaluate                      # build/corpus, rebuilt from seeds if missing
  heeldrop evaluate --corpus DIR --config my-settings.json

Prints, per scenario and per mounting, rep F1 (a detected rep counts when its
span overlaps the true one by half), depth and hold-time mean absolute errors,
fault-flag F1, the median bounce-cue latency and the share of too-fast
descents flagged before the bottom."""


def add_arguments(p):
    p.add_argument("--corpus", default=None, metavar="DIR", help="corpus folder (default build/corpus; installed: the user's cache folder)")
    p.add_argument("--config", metavar="FILE", help="JSON settings to evaluate instead of the defaults")


def run(args):
    from heeldrop.evaluate import report
    from heeldrop import resources
    # build/corpus in a checkout; installed, the user's cache (never the installed package)
    corpus = args.corpus or resources.work_dir("corpus", create=False)
    if args.corpus is None:
        from heeldrop.synth.corpus import ensure_corpus
        ensure_corpus(corpus)
    if not os.path.exists(os.path.join(corpus, "index.json")):
        raise UserError("%s: not a corpus folder (no index.json); make one with `heeldrop synth --corpus %s`" % (corpus, corpus))
    text = report(corpus, load_config(args.config))[0]
    print(text)
    return 0
