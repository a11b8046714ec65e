"""Load a heelcore Config from a JSON file with one-line errors."""
import json

from heelcore.config import Config, ConfigError
from heeldrop.errors import UserError


def load_config(path):
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise UserError("%s: cannot read the config file (%s)" % (path, e.strerror or e))
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UserError("%s: not valid JSON (%s); a config file is one JSON object like {\"hold_target_s\": 20}" % (path, e))
    try:
        return Config.from_dict(data, where=str(path))
    except ConfigError as e:
        raise UserError(str(e))
