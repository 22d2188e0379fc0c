"""memsim.cache — see docs/architecture.md."""
