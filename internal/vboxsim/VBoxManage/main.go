// Command VBoxManage is the VirtualBox stand-in the virtualbox provider's
// tests build and run (see package vboxsim).
package main

import (
	"os"

	"github.com/labform/labform/internal/vboxsim"
)

func main() {
	os.Exit(vboxsim.Main(os.Args[1:], os.Stdout, os.Stderr))
}
