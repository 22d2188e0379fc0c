"""Memory strategies: compression sizes, reuse and unrolling options (DESIGN §4 strategies)."""

from memsim.strategies.compression import compressed_bits_per_element, tensor_bytes_hook

__all__ = ["compressed_bits_per_element", "tensor_bytes_hook"]
