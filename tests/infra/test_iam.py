"""Each function's IAM policy grants exactly the AWS calls its code can make, on the
resources it makes them on: no more (least privilege), no less (AccessDenied in AWS).

The calls are found by reading the code, not by listing them again: from the handler,
every module it imports (lazily or not), every function reachable by name, and in them
every boto3 client method (botocore's operation names, `get_paginator("...")` too),
mapped to its IAM action. Which resource a call reaches is the store that makes it
(STORES below: the one mapping written here). Documented exceptions: a transaction is
granted as the item actions inside it (IAM has no TransactWriteItems action), what SAM
adds itself (the dead-letter queue's sqs:SendMessage) is not in `Policies`, and a call on a
resource the template creates only under a condition (the report's Athena workgroup) is
granted under that condition alone, with what the service then reads and writes with the
caller's credentials (ON_BEHALF: Athena reads the Glue table and writes its results).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from earnest_cli.template import ROOT, load_template
from tests.builders.policies import statements

SHARED = ROOT / "shared"
SERVICES = ("dynamodb", "s3", "ssm", "athena")
RESOURCES: dict[str, Any] = load_template()["Resources"]
FUNCTIONS = sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function")
# Which resource each store's calls reach: (module, top-level class or function) -> resource.
STORES = {
    ("earnest_aws.consent_store", "*"): "ConsentTable",
    ("earnest_aws.consent_writer", "*"): "ConsentTable",
    ("earnest_aws.memory_store", "*"): "ConsentTable",
    ("earnest_aws.experiences_store", "*"): "ExperiencesTable",
    ("earnest_aws.events_store", "*"): "DataBucket",
    ("earnest_aws.edge_bundle", "*"): "DataBucket",
    ("earnest_aws.reports_store", "ReportsStore"): "DataBucket",
    ("earnest_aws.reports_store", "erased_subjects"): "ConsentTable",
    ("earnest_aws.secrets", "*"): "SSM",
    ("earnest_aws.athena", "*"): "ReportWorkGroup",
}
IAM_NAMES = {"ListObjectsV2": "ListBucket"}  # where the action is not the operation's name
TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
TRANSACTION_ITEMS["ConditionCheck"] = "ConditionCheckItem"
# Calls the code can make but the function's environment switches off: Settings reads the
# token keys from SSM only when EXPOSURE_TOKEN_KEYS_PARAM is set, which the template sets
# for decide and record-exposure alone (checked below).
SWITCHED_OFF = {"NightlyReportFunction": {("ssm:GetParameter", "SSM"): "EXPOSURE_TOKEN_KEYS_PARAM"}}
# Resources that exist only under a template condition: calls on them are granted with it.
CONDITIONAL = {"ReportWorkGroup": "ReportInAthena"}
# What Athena does with the caller's credentials to run the report's query: reads the Glue
# table's definition and the events, writes and reads its results (under athena-results/).
ON_BEHALF = {
    "ReportInAthena": {
        (f"glue:{action}", resource)
        for action in ("GetDatabase", "GetTable", "GetPartitions")
        for resource in ("GlueCatalog", "EventsDatabase", "EventsTable")
    }
    | {
        (f"s3:{action}", "DataBucket")
        for action in (
            "GetBucketLocation",
            "ListBucketMultipartUploads",
            "ListBucket",
            "GetObject",
            "PutObject",
            "AbortMultipartUpload",
            "ListMultipartUploadParts",
        )
    }
}
# Names that are not AWS calls though an operation is so named: botocore's get_session is
# the session, not Athena's GetSession.
NOT_CALLS = {"get_session"}
# Names every dict, list or regex match has (`match.group(1)` is no store's `group`):
# followed only on a receiver annotated with a store class.
CONTAINER_METHODS = set(dir(dict)) | set(dir(list)) | set(dir(set)) | set(dir(str))
CONTAINER_METHODS |= set(dir(re.Match))


@cache
def operations() -> dict[str, tuple[str, str]]:
    """boto3 method name -> (service, operation), for the services the code uses."""
    session = botocore.session.get_session()
    out: dict[str, tuple[str, str]] = {}
    for service in SERVICES:
        for op in session.get_service_model(service).operation_names:
            out.setdefault(xform_name(op), (service, op))
    return out


def module_path(name: str) -> Path | None:
    base = SHARED.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(app: Path) -> dict[str, ast.Module]:
    """The handler and every earnest / earnest_aws module it can import, at any depth."""
    trees = {"app": ast.parse(app.read_text())}
    todo = ["app"]
    while todo:
        for node in ast.walk(trees[todo.pop()]):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                path = module_path(name)
                if path and name not in trees:
                    trees[name] = ast.parse(path.read_text())
                    todo.append(name)
    return trees


Def = tuple[str, str, ast.AST]  # (module, top-level owner, the def)


def _index(
    trees: dict[str, ast.Module],
) -> tuple[dict[tuple[str, str], list[Def]], dict[str, list[Def]]]:
    """(module, name) -> what a plain name means there (its own top-level functions, a
    class's __init__, what it imports, under its alias); and method name -> every method."""
    names: dict[tuple[str, str], list[Def]] = {}
    methods: dict[str, list[Def]] = {}
    for module, tree in trees.items():
        for top in tree.body:
            if isinstance(top, ast.ClassDef):
                for item in top.body:
                    if isinstance(item, ast.FunctionDef):
                        methods.setdefault(item.name, []).append((module, top.name, item))
                        if item.name == "__init__":
                            names.setdefault((module, top.name), []).append(
                                (module, top.name, item)
                            )
            elif isinstance(top, ast.FunctionDef):
                names.setdefault((module, top.name), []).append((module, top.name, top))
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in trees:
                for alias in node.names:
                    found = names.get((node.module, alias.name), [])
                    names.setdefault((module, alias.asname or alias.name), []).extend(found)
    return names, methods


def dict_keys(tree: ast.Module) -> set[Any]:
    """The constant keys of every dict literal in a module (a transaction's item kinds)."""
    return {
        k.value
        for d in ast.walk(tree)
        if isinstance(d, ast.Dict)
        for k in d.keys
        if isinstance(k, ast.Constant)
    }


def _annotations(node: ast.AST) -> dict[str, str]:
    if not isinstance(node, ast.FunctionDef):
        return {}
    args = node.args.args + node.args.kwonlyargs
    # A generic annotation (a store Protocol, `ExperienceStore[Any]`) names its class.
    return {
        a.arg: ast.unparse(
            a.annotation.value if isinstance(a.annotation, ast.Subscript) else a.annotation
        )
        for a in args
        if a.annotation is not None
    }


def lineage(trees: dict[str, ast.Module], owner: str) -> set[str]:
    """The class and the classes it derives from (by name, within the scanned modules)."""
    bases = {
        top.name: [ast.unparse(b) for b in top.bases]
        for tree in trees.values()
        for top in tree.body
        if isinstance(top, ast.ClassDef)
    }
    family: set[str] = set()
    todo = [owner]
    while todo:
        name = todo.pop()
        if name not in family:
            family.add(name)
            todo += bases.get(name, [])
    return family


def calls_of(logical_id: str) -> set[tuple[str, str]]:
    """(IAM action, resource) for every AWS call the function's code can reach."""
    app = ROOT / RESOURCES[logical_id]["Properties"]["CodeUri"] / "app.py"
    trees = imported_modules(app)
    names, methods = _index(trees)
    classes = {owner for found in methods.values() for _, owner, _ in found}
    # Module-level code runs at import; then the handler and whatever it names.
    todo: list[tuple[str, str, ast.AST]] = []
    for module, tree in trees.items():
        for top in tree.body:
            if not isinstance(top, ast.FunctionDef | ast.ClassDef):
                todo.append((module, "*", top))
    todo += names[("app", "handler")]
    seen: set[int] = set()
    found: set[tuple[str, str]] = set()
    while todo:
        module, owner, node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        annotated = _annotations(node)
        keys = dict_keys(trees[module])
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                todo += names.get((module, sub.id), [])
            elif isinstance(sub, ast.Attribute):
                receiver = ast.unparse(sub.value)
                candidates = methods.get(sub.attr, [])
                if receiver == "self":  # a method of the class or a base, not any so named
                    candidates = [d for d in candidates if d[1] in lineage(trees, owner)]
                if sub.attr not in CONTAINER_METHODS or annotated.get(receiver) in classes:
                    todo += candidates
                if isinstance(sub.ctx, ast.Load) and sub.attr in operations().keys() - NOT_CALLS:
                    found |= _grant(module, owner, sub.attr, keys)
            if isinstance(sub, ast.Call) and ast.unparse(sub.func).endswith("get_paginator"):
                found |= _grant(module, owner, xform_name(sub.args[0].value), keys)  # type: ignore[attr-defined]
    return found


def _grant(module: str, owner: str, method: str, keys: set[Any]) -> set[tuple[str, str]]:
    service, op = operations()[method]
    resource = STORES.get((module, owner)) or STORES[(module, "*")]
    if op == "TransactWriteItems":
        return {
            (f"dynamodb:{TRANSACTION_ITEMS[k]}", resource) for k in keys & TRANSACTION_ITEMS.keys()
        }
    return {(f"{service}:{IAM_NAMES.get(op, op)}", resource)}


def _resource(value: Any) -> str:
    """A policy Resource (as the template loader keeps it) -> the resource it names."""
    text = str(value)
    if ":ssm:" in text:
        return "SSM"
    if text.endswith(":catalog"):
        return "GlueCatalog"
    if text.startswith("arn:"):  # the last resource it names (a table's, not its database's)
        refs = [r for r in re.findall(r"\$\{([^}]+)\}", text) if not r.startswith("AWS::")]
        return refs[-1].split(".")[0]
    return text.removeprefix("${").split(".")[0]


def granted(logical_id: str, conditions: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """The grants of the function's policies, with `conditions` true (the others false)."""
    out: set[tuple[str, str]] = set()
    for statement in statements(RESOURCES[logical_id], conditions):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        for action in actions if isinstance(actions, list) else [actions]:
            for resource in resources:
                if resource != "UseHeader" and "AWS::NoValue" not in str(resource):
                    out.add((action, _resource(resource)))
    return out


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_policy_grants_exactly_the_calls_the_code_makes(logical_id: str) -> None:
    used = calls_of(logical_id)
    assert used, "no AWS call found: the scan is broken"
    off = SWITCHED_OFF.get(logical_id, {})
    env = RESOURCES[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    assert not set(off.values()) & set(env), "a switched-off call is switched on"
    conditional = {c for c in used if c[1] in CONDITIONAL}
    assert granted(logical_id) == used - set(off) - conditional
    for condition in {CONDITIONAL[r] for _, r in conditional}:
        assert granted(logical_id, frozenset({condition})) == (
            used - set(off) | ON_BEHALF[condition]
        )


def test_the_report_may_run_athena_queries_only_when_it_is_configured_to() -> None:
    used = calls_of("NightlyReportFunction")
    athena = {c for c in used if c[0].startswith("athena:")}
    assert athena == {
        ("athena:StartQueryExecution", "ReportWorkGroup"),
        ("athena:GetQueryExecution", "ReportWorkGroup"),
        ("athena:GetQueryResults", "ReportWorkGroup"),
        ("athena:StopQueryExecution", "ReportWorkGroup"),
    }
    assert not granted("NightlyReportFunction") & athena
