"""Memory strategies (DESIGN §4, issue 8): compression sizes and where data expands, and the
per-line-run attributes (DRAM ratio, decompressor, streaming stores) the tile stream hands to the
engine. See docs/strategies.md. The strategies that are mapping decisions — unrolling and layer
fusion — live in ``memsim.mapping.unroll`` and ``memsim.mapping.fusion``: they work on loop
nests and tiles, and this stage sits before mapping (it imports only workloads and fileio)."""

from memsim.strategies.compression import (compressed_bits_per_element, compression_table,
                                           dram_ratio, spec_for, stored_bytes, tensor_bytes_hook)
from memsim.strategies.formats import compressed_bytes, stored_bits

__all__ = ["compressed_bits_per_element", "compressed_bytes", "compression_table", "dram_ratio",
           "spec_for", "stored_bits", "stored_bytes", "tensor_bytes_hook"]
