package qemu

import "testing"

// TestManagementMAC: the management NIC's MAC follows the adapters'.
func TestManagementMAC(t *testing.T) {
	for name, tc := range map[string]struct {
		base     string
		adapters int
		want     string
	}{
		"after a base":        {"0c:7a:1e:00:00:10", 2, "0c:7a:1e:00:00:12"},
		"after no adapter":    {"0c:7a:1e:00:00:10", 0, "0c:7a:1e:00:00:10"},
		"carries into a byte": {"0c:7a:1e:00:00:ff", 1, "0c:7a:1e:00:01:00"},
	} {
		got := macs(tc.base, "id", tc.adapters+1)[tc.adapters]
		if got != tc.want {
			t.Errorf("%s: wrong MAC\ngot:  %s\nwant: %s", name, got, tc.want)
		}
	}
}
