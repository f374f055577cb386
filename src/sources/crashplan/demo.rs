//! The demo's CrashPlan PRO server: the simulator with the demo fleet.

use futures_util::future::BoxFuture;

use super::sim::{SimConfig, SimServer};
use crate::sim::Simulator;
use crate::sources::Demo;

const USER: &str = "demo";
const PASSWORD: &str = "demo-password";

struct Running(SimServer);

pub async fn start(now: chrono::DateTime<chrono::Utc>) -> Result<Box<dyn Demo>, String> {
    let config = SimConfig {
        username: USER.into(),
        password: PASSWORD.into(),
        admin: true,
    };
    let server = SimServer::start(super::sim::fleet::demo_fleet(now), config)
        .await
        .map_err(|e| format!("start the simulated CrashPlan PRO server: {e}"))?;
    Ok(Box::new(Running(server)))
}

impl Demo for Running {
    fn source(&self) -> String {
        format!(
            "name = \"demo-crashplan\"\nkind = \"crashplan\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\npage_size = 25\n",
            self.0.url()
        )
    }
    fn banner(&self) -> (&'static str, String) {
        (
            "simulated CrashPlan PRO server",
            format!("{}/rest/ (user {USER})", self.0.url()),
        )
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.shutdown())
    }
}
