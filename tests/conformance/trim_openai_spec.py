"""Cut OpenAI's published OpenAPI document down to its video routes (run by hand, not a test).

    python tests/conformance/trim_openai_spec.py path/to/openapi.json COMMIT

``openapi.json`` is the file of the github.com/openai/openai-openapi repository at COMMIT.
Keeps the ``/videos`` create/list/retrieve/delete/content/remix operations, the component
schemas they reach (followed through every ``$ref``), and of each operation's ``x-oaiMeta``
only its example response (the SDK snippets are dropped). Writes ``openai_videos_spec.json``
beside this file, its first key naming where it came from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PATHS = (
    "/videos",
    "/videos/{video_id}",
    "/videos/{video_id}/content",
    "/videos/{video_id}/remix",
)
SCHEMA_PREFIX = "#/components/schemas/"


def _collect_refs(node: Any, schemas: dict[str, Any], found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value.startswith(SCHEMA_PREFIX):
                name = value.removeprefix(SCHEMA_PREFIX)
                if name not in found:
                    found.add(name)
                    _collect_refs(schemas[name], schemas, found)
            else:
                _collect_refs(value, schemas, found)
    elif isinstance(node, list):
        for item in node:
            _collect_refs(item, schemas, found)


def _trim_operation(operation: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in operation.items() if key != "x-oaiMeta"}
    examples = operation.get("x-oaiMeta", {}).get("examples", {})
    if isinstance(examples, dict) and examples.get("response"):
        kept["x-example-response"] = examples["response"]
    return kept


def trim(spec: dict[str, Any], commit: str) -> dict[str, Any]:
    """The video part of ``spec``, with its source named first."""
    schemas = spec["components"]["schemas"]
    paths = {
        path: {method: _trim_operation(op) for method, op in spec["paths"][path].items()}
        for path in PATHS
    }
    found: set[str] = set()
    _collect_refs(paths, schemas, found)
    return {
        "x-source": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.json",
            "commit": commit,
            "trimmed_by": "tests/conformance/trim_openai_spec.py",
        },
        "openapi": spec["openapi"],
        "info": spec["info"],
        "paths": paths,
        "components": {"schemas": {name: schemas[name] for name in sorted(found)}},
    }


if __name__ == "__main__":
    source, commit = Path(sys.argv[1]), sys.argv[2]
    trimmed = trim(json.loads(source.read_text()), commit)
    target = Path(__file__).with_name("openai_videos_spec.json")
    target.write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {target} ({len(trimmed['components']['schemas'])} schemas)")
