package providers

// LabNetns is the name of a lab's own network namespace (under
// /var/run/netns): bridges and the lab side of every port live there. This is
// the only place the rule is written: labnet, which makes the namespace,
// and every provider call this function.
func LabNetns(lab string) string { return "lf-" + lab }
