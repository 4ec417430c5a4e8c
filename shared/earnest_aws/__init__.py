"""Adapters from Earnest's core to AWS: settings, HTTP events, DynamoDB and S3 stores.

Handlers import from here; the core (`earnest`) never does.
"""
