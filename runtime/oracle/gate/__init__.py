"""The gate: after the risk engine, the LLM may veto or shrink the cycle's buys, never more.

``cycle.py`` (the cycle's side: buys out of the order intents, clamps back),
``review.py`` (:class:`GateOracle`, the verdicts and the invariant that nothing grows),
``prompts.py`` (the question) and ``parsing.py`` (reading the answer).
"""
