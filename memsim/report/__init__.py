"""memsim.report — see docs/architecture.md."""
