//! One integration-test binary (ripgrep's `autotests = false`): each module is one feature.

// The compiled RuleSet against a brute-force reference evaluator on random texts and queries.
mod matcher_props;
