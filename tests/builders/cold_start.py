"""Run in a clean interpreter by tests/builders/deployed.py: a Lambda cold start, then calls.

Standard library only: this runs with nothing on sys.path but the folders it is given
(the function, the layer, the runtime's boto3), as Lambda puts /var/task and /opt/python.
"""

import json
import sys


def main(spec_path: str) -> None:
    with open(spec_path) as f:
        spec = json.load(f)
    sys.path[:0] = spec["paths"]
    import app  # the function's handler module, as Lambda's `app.handler` finds it

    answers = [app.handler(event, None) for event in spec["events"]]
    loaded: dict[str, list[str]] = {path: [] for path in spec["paths"]}
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        for path in spec["paths"]:
            if origin.startswith(path + "/"):
                loaded[path].append(name)
    with open(spec["result"], "w") as f:
        json.dump({"answers": answers, "loaded": loaded, "version": sys.version_info[:2]}, f)


if __name__ == "__main__":
    main(sys.argv[1])
