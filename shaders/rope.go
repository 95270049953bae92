package shaders

import (
	"fmt"

	"novae/shaders/ref"
)

// RoPEParams is the WGSL Params twin.
type RoPEParams struct {
	N, T, NH, Half, Prefix uint32
}

// RoPETable uploads the (cos, sin) table RoPE2D reads for an H×W patch grid,
// head dim HD and DINOv3's base (100): ref.RoPETable of ref.RoPEAngles with
// ref.RoPEPeriods, computed in float64. A model that loads the checkpoint's
// rope_embed.periods uploads ref.RoPETable(ref.RoPEAngles(H, W, periods))
// itself. The table is [H·W, HD/2, 2]; it depends only on the grid, so make
// it once per resolution.
func (e *Engine) RoPETable(H, W, HD int, base float64) *Tensor {
	if HD%4 != 0 || H < 1 || W < 1 {
		panic(fmt.Sprintf("shaders: RoPETable: H=%d W=%d HD=%d (HD must be a multiple of 4)", H, W, HD))
	}
	return e.Upload(ref.RoPETable(ref.RoPEAngles(H, W, ref.RoPEPeriods(HD, base))), H*W, HD/2, 2).Named("rope_table")
}

// RoPE2D records DINOv3's rotary embedding, in place, on the q and k parts of
// qkv [B,T,3·NH·HD] for tokens prefix…T−1 (prefix = 1 cls + 4 registers in
// DINOv3), reading angles from table [T−prefix, HD/2, 2] (RoPETable); v and
// the prefix tokens are left as they are.
func (e *Engine) RoPE2D(qkv, table *Tensor, B, T, NH, HD, prefix int) {
	if B < 1 || NH < 1 || HD < 2 || HD%2 != 0 || prefix < 0 || prefix >= T {
		panic(fmt.Sprintf("shaders: RoPE2D: B=%d T=%d NH=%d HD=%d prefix=%d", B, T, NH, HD, prefix))
	}
	if qkv.DType != F32 || qkv.Len() != B*T*3*NH*HD {
		panic(fmt.Sprintf("shaders: RoPE2D: qkv %v, want f32 [%d,%d,%d]", qkv, B, T, 3*NH*HD))
	}
	if table.DType != F32 || table.Len() != (T-prefix)*HD {
		panic(fmt.Sprintf("shaders: RoPE2D: table %v, want f32 [%d,%d,2]", table, T-prefix, HD/2))
	}
	n := B * (T - prefix) * 2 * NH * HD / 2
	p := RoPEParams{N: uint32(n), T: uint32(T), NH: uint32(NH), Half: uint32(HD / 2), Prefix: uint32(prefix)}
	e.dispatch(kernel{file: "rope", entry: "main", outs: 1, ins: 1}, e.grid1(ceilDiv(n, 256)), p, qkv, table)
}
