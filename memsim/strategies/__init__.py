"""Memory strategies (DESIGN §4, issue 8): compression sizes and where data expands, layer fusion,
unrolling, and the per-line-run attributes (DRAM ratio, decompressor, streaming stores) the tile
stream hands to the engine. See docs/strategies.md."""

from memsim.strategies.compression import (compressed_bits_per_element, compression_table,
                                           dram_ratio, spec_for, stored_bytes, tensor_bytes_hook)
from memsim.strategies.formats import compressed_bytes, stored_bits

__all__ = ["compressed_bits_per_element", "compressed_bytes", "compression_table", "dram_ratio",
           "spec_for", "stored_bits", "stored_bytes", "tensor_bytes_hook"]
