package pglocal

import "syscall"

func supported() error { return nil }

// procAttr runs a child as acct (nil: as this process's user), in its own process group so a
// terminal's Ctrl-C reaches only this process, and has the kernel send it SIGQUIT,
// PostgreSQL's immediate shutdown, when this process dies, however it dies.
func procAttr(acct *account) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if acct != nil {
		a.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: []uint32{}}
	}
	return a
}
