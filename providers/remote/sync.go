package remote

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/labform/labform/internal/agent"
)

// labManifest lists the lab's directory: every directory, file and
// symbolic link below it, without labform's own .labform and a .git.
// Symbolic links are listed, not followed; devices and fifos are left out.
func labManifest(dir string) ([]agent.FileEntry, error) {
	var out []agent.FileEntry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "." {
			return nil
		}
		if d.IsDir() && (rel == ".labform" || rel == ".git") {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := agent.FileEntry{Path: filepath.ToSlash(rel), Mode: uint32(info.Mode())}
		switch {
		case info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(path); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			e.Size, e.Mtime = info.Size(), info.ModTime().UnixNano()
		default:
			return nil
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// writeLabFiles writes the named entries of the lab's directory as a tar
// stream, in the order given (a directory before what it holds).
func writeLabFiles(w io.Writer, dir string, entries []agent.FileEntry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		path := filepath.Join(dir, filepath.FromSlash(e.Path))
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, e.Link)
		if err != nil {
			return err
		}
		h.Name = e.Path
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		}
		h.Uname, h.Gname = "", ""
		h.Format = tar.FormatPAX // modification times to the nanosecond, which the host compares
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			// What the header announced, even if the file grew since.
			_, err = io.CopyN(tw, f, h.Size)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	return tw.Close()
}

// syncLab sends the host what it lacks of the lab's directory, at the
// same path, once per connection.
func (c *conn) syncLab(dir string) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	if c.synced == dir || dir == "" {
		return nil
	}
	if _, err := c.sendLab(dir, dir); err != nil {
		return err
	}
	c.synced = dir
	return nil
}

// sendLab sends the host what its directory dst lacks of the local
// directory src (the same path but in tests) and returns how many entries
// it sent.
func (c *conn) sendLab(src, dst string) (int, error) {
	files, err := labManifest(src)
	if err != nil {
		return 0, c.errorf("listing the lab directory to send it: %v", err)
	}
	var reply agent.LabFilesReply
	if err := c.call("LabFiles", agent.LabFilesArgs{Dir: dst, Files: files}, &reply); err != nil {
		return 0, err
	}
	if len(reply.Need) > 0 {
		need := map[string]bool{}
		for _, p := range reply.Need {
			need[p] = true
		}
		var send []agent.FileEntry
		for _, f := range files {
			if need[f.Path] {
				send = append(send, f)
			}
		}
		sess, err := c.session()
		if err != nil {
			return 0, err
		}
		defer sess.Close()
		in, err := sess.StdinPipe()
		if err != nil {
			return 0, err
		}
		var stderr tailBuffer
		stderr.max = 4096
		sess.Stderr = &stderr
		if err := sess.Start(c.agentCommand("sync " + sq(dst))); err != nil {
			return 0, c.errorf("sending the lab directory: %v", err)
		}
		werr := writeLabFiles(in, src, send)
		in.Close()
		if err := sess.Wait(); err != nil || werr != nil {
			return 0, c.errorf("sending the lab directory %s (%d entries): %v %v: %s", src, len(send), werr, err, strings.TrimSpace(stderr.String()))
		}
	}
	return len(reply.Need), nil
}

// sq quotes s for the remote shell, with nothing expanded.
func sq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
