"""Consent-management platforms' payloads, turned into Earnest consent updates.

One module per source (Earnest's own signed format, Didomi, Usercentrics, Ketch), the
mapping tables from industry signals (TCF, Google Consent Mode, GPP) onto Earnest's two
purposes, and how each source authenticates. Pure: it must not import boto3.
"""
