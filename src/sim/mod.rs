//! Simulated vendor servers (demo and tests).

pub mod code42;
pub mod code42_fleet;
pub mod common;
pub mod crashplan;
pub mod crashplan_fleet;
pub mod freezer;
pub mod freezer_fleet;
pub mod rackspace;
pub mod rackspace_fleet;
