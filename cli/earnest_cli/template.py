"""Reads template.yaml, the single source of truth for tables and bucket.

The local stack and the tests build their moto resources from it, so a key schema is
written once, in the template, and nowhere else.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FUNCTIONS = ROOT / "functions"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


@cache
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml, or another CloudFormation template (the edge worker's site template)."""
    with path.open() as f:
        template: dict[str, Any] = yaml.load(f, Loader=_CfnLoader)
    return template


def table_definitions() -> dict[str, dict[str, Any]]:
    """Logical id -> the CreateTable arguments the template declares (name aside)."""
    out: dict[str, dict[str, Any]] = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        args: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in props:
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        out[logical_id] = args
    return out


# Logical ids in the template -> the setting that names the resource at run time.
TABLE_SETTINGS = {"ExperiencesTable": "experiences_table", "ConsentTable": "consent_table"}


def create_resources(dynamodb: Any, s3: Any, settings: Any) -> None:
    """Create the template's tables and bucket under the names `settings` gives."""
    existing = set(dynamodb.list_tables()["TableNames"])
    for logical_id, args in table_definitions().items():
        name = getattr(settings, TABLE_SETTINGS[logical_id])
        if name not in existing:
            dynamodb.create_table(TableName=name, **args)
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.events_bucket not in buckets:
        s3.create_bucket(Bucket=settings.events_bucket)
