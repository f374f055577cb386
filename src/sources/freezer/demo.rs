//! The demo's OpenStack Freezer deployment: the simulator (keystone included) with the demo
//! deployment of two projects.

use futures_util::future::BoxFuture;

use super::sim::{
    SimConfig, SimServer, ADMIN_USER_NAME, DEMO_ADMIN_PASSWORD, DEV_PROJECT_ID, PROD_PROJECT_ID,
    PROD_PROJECT_NAME,
};
use crate::sim::Simulator;
use crate::sources::Demo;

struct Running(SimServer);

pub async fn start(now: chrono::DateTime<chrono::Utc>) -> Result<Box<dyn Demo>, String> {
    let server = SimServer::start(
        super::sim::fleet::demo_deployment(now.timestamp()),
        SimConfig::default(),
    )
    .await
    .map_err(|e| format!("start the simulated Freezer deployment: {e}"))?;
    Ok(Box::new(Running(server)))
}

impl Demo for Running {
    fn source(&self) -> String {
        format!(
            "name = \"demo-freezer\"\nkind = \"freezer\"\nidentity_url = \"{}\"\nusername = \"{ADMIN_USER_NAME}\"\npassword = \"{DEMO_ADMIN_PASSWORD}\"\nproject_name = \"{PROD_PROJECT_NAME}\"\nprojects = [\"{PROD_PROJECT_ID}\", \"{DEV_PROJECT_ID}\"]\npage_size = 10\n",
            self.0.identity_url()
        )
    }
    fn banner(&self) -> (&'static str, String) {
        (
            "simulated OpenStack Freezer",
            format!(
                "{}/auth/tokens (user {ADMIN_USER_NAME})",
                self.0.identity_url()
            ),
        )
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.shutdown())
    }
}
