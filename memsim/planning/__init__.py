"""memsim.planning — see docs/architecture.md."""
