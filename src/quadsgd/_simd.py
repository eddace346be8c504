"""Four-wide double-precision vectors for compiled kernels: values held in SIMD registers.

numba vectorizes a loop only when it is the innermost one, so a matrix product written as loops
keeps its partial sums in memory (a load and a store per multiply-add). With these intrinsics a
kernel names vectors itself, so a tile of partial sums stays in registers across the summation
index. Each lane of :func:`vmuladd` is one IEEE multiply followed by one IEEE add, never a fused
multiply-add: the results are bit for bit those of the scalar expression ``acc + a * b``, on any
machine (on one without 256-bit vectors LLVM splits the vector into narrower ones). That holds
in a kernel compiled without ``fastmath`` (numba's default, and every kernel of the package):
fastmath flags reach these instructions too and would let LLVM fuse or reorder them.

Private to the package: the names here may change without notice.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

__all__ = ["vec4", "vload", "vstore", "vsplat", "vzero", "vmuladd"]

_V4 = ir.VectorType(ir.DoubleType(), 4)


def _intrinsic(codegen_factory: Any) -> Any:
    """numba's ``intrinsic``, typed as what kernels call it with: their own arguments."""
    return intrinsic(codegen_factory)


class _Vec4Type(types.Type):
    def __init__(self) -> None:
        super().__init__(name="Vec4")


#: The numba type of four doubles in one vector register.
vec4 = _Vec4Type()


@register_model(_Vec4Type)
class _Vec4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V4)


def _pointer(context, builder, arrty, arr, idx):
    """Address of ``arr[idx]`` (a 1-D contiguous float64 array) as a vector pointer."""
    ary = context.make_array(arrty)(context, builder, arr)
    ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [idx], wraparound=False)
    return builder.bitcast(ptr, _V4.as_pointer())


def _check_row(arr: types.Type) -> None:
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.float64 and arr.layout == "C"):
        raise TypeError(f"a vector is loaded from a contiguous 1-D float64 array; got {arr}")


@_intrinsic
def vload(typingctx, arr, idx):
    """``arr[idx:idx + 4]`` as a vector; no bounds check (the caller keeps ``idx + 3`` in range)."""
    _check_row(arr)

    def codegen(context, builder, sig, args):
        load = builder.load(_pointer(context, builder, sig.args[0], args[0], args[1]))
        load.align = 8
        return load

    return vec4(arr, idx), codegen


@_intrinsic
def vstore(typingctx, arr, idx, v):
    """``arr[idx:idx + 4] = v``; no bounds check."""
    _check_row(arr)

    def codegen(context, builder, sig, args):
        store = builder.store(args[2], _pointer(context, builder, sig.args[0], args[0], args[1]))
        store.align = 8
        return context.get_dummy_value()

    return types.none(arr, idx, v), codegen


@_intrinsic
def vsplat(typingctx, x):
    """The scalar ``x`` in all four lanes."""

    def codegen(context, builder, sig, args):
        v = ir.Constant(_V4, ir.Undefined)
        for i in range(4):
            v = builder.insert_element(v, args[0], ir.Constant(ir.IntType(32), i))
        return v

    return vec4(types.float64), codegen


@_intrinsic
def vzero(typingctx):
    """Four zeros."""

    def codegen(context, builder, sig, args):
        return ir.Constant(_V4, [0.0] * 4)

    return vec4(), codegen


@_intrinsic
def vmuladd(typingctx, acc, a, b):
    """``acc + a * b`` lane by lane: a multiply, then an add, each rounded (not fused)."""

    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], builder.fmul(args[1], args[2]))

    return vec4(vec4, vec4, vec4), codegen
