"""alertstream's composition root: the CLI, the one settings object and the local stack.

The stages live beside this package: ``schemas`` (the contract), ``streams`` (evaluate),
``consumers`` (deliver and store).
"""

__version__ = "0.1.0"
