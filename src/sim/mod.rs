//! Simulated vendor servers (demo and tests).
