//! Freezer source tests.
