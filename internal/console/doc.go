// Package console attaches a terminal to a node's console until the user
// detaches with Ctrl-]: a VM's serial port (QEMU's telnet server, a
// VirtualBox uart pipe) or a program on a pseudo-terminal (a container's
// shell). It owns the terminal's raw mode and the telnet framing; it does
// not know how the console was opened.
//
// It imports nothing of labform: it does not know how the console
// was opened.
package console
