"""Earnest's pure core: the domain of experiences, audiences, decisions, consent and lift.

Nothing in this package talks to AWS; it imports no boto3. Importing the package itself
is free: each module is imported where it is used, so `decide` pays only for what it runs.
"""

__version__ = "0.1.0"
