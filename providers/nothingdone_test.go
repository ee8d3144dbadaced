package providers

import (
	"errors"
	"fmt"
	"testing"
)

func TestNothingDone(t *testing.T) {
	base := errors.New("qemu-img said: no such file")
	tests := map[string]struct {
		err      error
		wantText string
		wantMark bool
	}{
		"marked":          {NothingDone(base), "qemu-img said: no such file", true},
		"marked, wrapped": {fmt.Errorf("vm.a: %w", NothingDone(base)), "vm.a: qemu-img said: no such file", true},
		"not marked":      {base, "qemu-img said: no such file", false},
		"the cause stays": {NothingDone(fmt.Errorf("x: %w", base)), "x: qemu-img said: no such file", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.err.Error() != tc.wantText {
				t.Errorf("text %q, want %q", tc.err.Error(), tc.wantText)
			}
			if errors.Is(tc.err, ErrNothingDone) != tc.wantMark {
				t.Errorf("errors.Is(ErrNothingDone) = %v, want %v", !tc.wantMark, tc.wantMark)
			}
			if !errors.Is(tc.err, base) {
				t.Error("the cause is lost")
			}
		})
	}
	if NothingDone(nil) != nil {
		t.Error("NothingDone(nil) is not nil")
	}
}
