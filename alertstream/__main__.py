"""`python -m alertstream …` = the `alertstream` console script (used by `dev` to start processes)."""

from alertstream.cli import main

main()
