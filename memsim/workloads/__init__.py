"""memsim.workloads — see docs/architecture.md."""
