package main

import (
	"os"

	"github.com/labform/labform/internal/vboxsim"
)

func main() {
	os.Exit(vboxsim.Main(os.Args[1:], os.Stdout, os.Stderr))
}
