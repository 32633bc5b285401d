"""The LLM client: one protocol, one HTTP client, and the layers around it.

``protocol.py`` (:class:`LLMClient`, the message types, the offline client),
``http.py`` (``/v1/chat/completions`` over httpx, the fallback chain, ``invest llm``
probes), ``cache.py`` (answers by prompt hash), ``budget.py`` (the daily budget),
``audit.py`` (every prompt and answer of a cycle) and ``stack.py`` (cache -> budget
-> HTTP for one account).

Providers differ only by settings, so there is one client and no folder per
provider: ``provider = "openai"`` (llama-swap, Ollama, vLLM, LM Studio) and
``provider = "mistral"`` share the request and answer shapes; what differs is the
default base URL, that Mistral needs an API key (both in ``oracle/config.py``), and
two details in ``http.py``: Mistral names the sampling seed ``random_seed``, and may
send message content as a list of text chunks (read for every provider).
"""
