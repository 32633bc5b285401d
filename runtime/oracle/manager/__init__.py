"""Manager mode: a two-pass LLM portfolio manager (analysis, then typed trade actions).

``decide.py`` (:class:`ManagerOracle`), ``prompts.py`` (both passes) and ``parsing.py``
(reading the answers). The strategy around it is ``strategies/llm_manager.py``.
"""
