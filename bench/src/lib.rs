//! Criterion suites for each stage of Ringmail.
