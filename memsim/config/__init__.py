"""memsim.config — see docs/architecture.md."""
