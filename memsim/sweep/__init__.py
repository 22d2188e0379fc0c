"""memsim.sweep — see docs/architecture.md."""
