"""`python -m schemas [PATH]`: validate a params file (exit 0 or 1).

`python -m schemas --write-json-schema` regenerates schemas/params.schema.json,
which editors use (through the `yaml-language-server` line atop params.yaml)
to complete and check keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from schemas import ParamsError, load_params
from schemas.ingest import ParamsWarning
from schemas.params import Params

JSON_SCHEMA_PATH = Path(__file__).with_name("params.schema.json")


def json_schema_text() -> str:
    """The JSON Schema of params.yaml, as written to schemas/params.schema.json."""
    return json.dumps(Params.model_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--write-json-schema", action="store_true", help=f"rewrite {JSON_SCHEMA_PATH}")
    args = parser.parse_args(argv)
    if args.write_json_schema:
        JSON_SCHEMA_PATH.write_text(json_schema_text())
        print(f"wrote {JSON_SCHEMA_PATH}")
        return 0
    # Everything but the PEFT blocks first: that answers in well under a second. Only a file that passes
    # is then checked with PEFT's own config classes, which costs a PEFT import (about 5 s).
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParamsWarning)
            load_params(args.path, check_peft=False)
        for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, ParamsWarning)):
            print(f"warning: {message}", file=sys.stderr)
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        print("(adapter `peft` blocks are checked with PEFT once these are fixed)", file=sys.stderr)
        return 1
    try:
        params = load_params(args.path, check_peft=True)
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"OK: {args.path} is valid ({len(type(params).model_fields)} sections)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
