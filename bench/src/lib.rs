//! Criterion suites for each stage of Ringmail; the suites live in benches/.
