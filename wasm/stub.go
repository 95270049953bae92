//go:build !js

package main

import (
	"fmt"
	"os"
)

// Natively this package only runs its tests: the app is a GOOS=js program.
func main() {
	fmt.Fprintln(os.Stderr, "novae's browser app: build it with GOOS=js GOARCH=wasm go build -o web/novae.wasm ./wasm (make run)")
	os.Exit(2)
}
