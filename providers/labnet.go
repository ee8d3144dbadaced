package providers

// LabNetns is the name of a lab's own network namespace (under
// /var/run/netns): bridges and the lab side of every port live there. The
// labnet package, which the network providers share, uses the same rule.
func LabNetns(lab string) string { return "lf-" + lab }
