"""The LLM variants of the options strategies: the model chooses among the rules' candidates.

``menu.py`` (the candidates and positions by short id), ``prompts.py`` (spreads in two
passes, the wheel in one), ``parsing.py`` (answers validated action by action) and
``review.py`` (:class:`OptionsOracle`, :class:`LLMOptionsStrategy`, the fail policy and
the invariant that every open is a candidate with at most its contracts).
"""
