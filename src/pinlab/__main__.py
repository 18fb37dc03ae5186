"""``python -m pinlab``: the command line, as the ``pinlab`` script."""

from pinlab.cli import main

main()
