package state

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkBackup10k: the backup apply takes before it changes anything,
// of a state of 10,000 records of 1 KiB.
func BenchmarkBackup10k(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(filepath.Join(dir, "state.db"), Options{Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var recs []*Record
	for i := 0; i < 10000; i++ {
		recs = append(recs, &Record{Addr: fmt.Sprintf("container.c[%d]", i), Type: "container", Provider: "container",
			Value: []byte(strings.Repeat("v", 1024))})
	}
	if err := s.Put(recs...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Backup(filepath.Join(dir, "backups"), 10); err != nil {
			b.Fatal(err)
		}
	}
}
