"""LLVM intrinsics of the cache kernels (numba-only: imported when a kernel compiles, by
``memsim.cache.kernel``'s ``numba_globals`` provider, never by an AOT-compiled run)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

__all__ = ["match_intrinsic", "trailing_zeros"]


def match_intrinsic(n):
    """``_match{n}(st, i, x)``: bit ``w`` set iff ``st[i + w] >> 1 == x`` for w < n, as one
    vector load, shift and compare (numba's own loops over a runtime index compile to gathers
    or to a branch per way). The caller guarantees ``st[i:i+n]`` is in bounds."""

    @intrinsic
    def match(typingctx, arr, idx, x):
        sig = types.int64(arr, types.int64, types.int64)

        def codegen(context, builder, signature, args):
            ary = context.make_array(signature.args[0])(context, builder, args[0])
            i64, i32 = ir.IntType(64), ir.IntType(32)
            vty = ir.VectorType(i64, n)
            ptr = builder.gep(ary.data, [args[1]], inbounds=True, source_etype=i64)
            tags = builder.ashr(builder.load(ptr, typ=vty, align=8), ir.Constant(vty, [1] * n))
            undef = ir.Constant(vty, ir.Undefined)
            xs = builder.shuffle_vector(builder.insert_element(undef, args[2], ir.Constant(i32, 0)),
                                        undef, ir.Constant(ir.VectorType(i32, n), [0] * n))
            bits = builder.bitcast(builder.icmp_signed("==", tags, xs), ir.IntType(n))
            return builder.zext(bits, i64)

        return sig, codegen

    return match

