"""memsim.mapping — see docs/architecture.md."""
