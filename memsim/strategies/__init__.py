"""memsim.strategies — see docs/architecture.md."""
