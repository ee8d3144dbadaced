package providers

import "testing"

func TestBaseMAC(t *testing.T) {
	tests := map[string]struct {
		in   string
		want uint64
		ok   bool
	}{
		"colons":    {"0c:7a:1e:00:00:01", 0x0c7a1e000001, true},
		"uppercase": {"0C:7A:1E:00:00:FF", 0x0c7a1e0000ff, true},
		"empty":     {"", 0, false},
		"garbage":   {"not a mac", 0, false},
		"eui-64":    {"00:00:00:00:fe:80:00:00", 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := BaseMAC(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("BaseMAC(%q) = %#x, %v; want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMACAt(t *testing.T) {
	tests := map[string]struct {
		base uint64
		n    int
		want string
	}{
		"first":         {0x0c7a1e000000, 0, "0c:7a:1e:00:00:00"},
		"carry":         {0x0c7a1e0000ff, 1, "0c:7a:1e:00:01:00"},
		"wraps 48 bits": {0xffffffffffff, 2, "00:00:00:00:00:01"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := MACAt(tc.base, tc.n).String(); got != tc.want {
				t.Fatalf("MACAt(%#x, %d) = %s, want %s", tc.base, tc.n, got, tc.want)
			}
		})
	}
}
