"""memsim.engine — see docs/architecture.md."""
