"""The documented library interface for decisions (SPEC 3, README): `earnest.engine.Engine`.

It stays importable here because users build on it; the implementation (and the one place
a decision happens) is `earnest.decide.engine`.
"""

from earnest.decide.engine import Engine

__all__ = ["Engine"]
