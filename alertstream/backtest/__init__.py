"""`alertstream backtest`: the recorded input events replayed through a proposed config.

:mod:`.history` reads a time window from the broker (read-only), :mod:`.replay` runs the worker's
evaluator for each config in one pass, :mod:`.report` computes the difference and :mod:`.html`
renders it as a self-contained page.
"""
