// Package agent is labform's agent: the same binary, started on a remote
// host over SSH as `labform agent`, serving the providers there to the
// labform that started it. The two speak net/rpc (gob) over the SSH
// session's stdin and stdout; cty values travel as msgpack with their
// types (cty's DynamicPseudoType encoding), so any schema crosses as it
// is.
//
// It imports the providers contract only; the providers it serves are
// handed to it by cmd/labform. It must never import config, planner or
// state: plans and state stay with the operator.
package agent
