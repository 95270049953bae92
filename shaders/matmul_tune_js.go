//go:build js

package shaders

// tunedPlan: in the browser tuning is not available (no timestamp queries
// through the JS backend here); "tune" means the automatic choice.
func (e *Engine) tunedPlan(y, x *Tensor, w Weight, ep Epilogue, p MatMulParams) MatMulPlan {
	return e.PlanMatMul(int(p.M), int(p.N), int(p.K))
}

// TuneResult is one measured candidate (native only; see matmul_tune.go).
type TuneResult struct {
	Plan MatMulPlan
	MS   float64
}

// TunedMatMul: nothing is tuned in the browser.
func (e *Engine) TunedMatMul(M, N, K int, kind WKind, group int, accumulate bool) []TuneResult {
	return nil
}
