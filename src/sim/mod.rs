//! Simulated vendor servers (demo and tests).

pub mod crashplan;
pub mod crashplan_fleet;
