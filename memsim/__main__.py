"""``python -m memsim`` runs the CLI."""

from memsim.cli import main

main()
