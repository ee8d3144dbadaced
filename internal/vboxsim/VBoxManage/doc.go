// Command VBoxManage is the VirtualBox stand-in the virtualbox provider's
// tests build and run (see package vboxsim).
//
// It imports internal/vboxsim only.
package main
