// Package render turns plans into text for people (like Terraform's) and
// JSON for programs (in the shape of Terraform's JSON plan). It computes
// nothing: every decision is already in the plan.
//
// It imports config/addr, planner, the providers contract and
// internal/par (a large plan's changes are written on every core);
// never state, config or a provider implementation: what it shows is
// already in the plan.
package render
