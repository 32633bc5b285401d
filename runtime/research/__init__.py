"""Research: a daily rules screen and LLM ranking that publish watchlists other accounts subscribe to."""
