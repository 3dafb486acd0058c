//! The spam classifier.
#![forbid(unsafe_code)]
