"""memsim.analysis — see docs/architecture.md."""
