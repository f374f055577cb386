//! The demo's Rackspace Cloud Backup account: the simulator (identity service included) with
//! the demo account.

use futures_util::future::BoxFuture;

use super::sim::{AccountConfig, SimServer};
use crate::sim::Simulator;
use crate::sources::Demo;

struct Running {
    server: SimServer,
    account: AccountConfig,
}

pub async fn start(now: chrono::DateTime<chrono::Utc>) -> Result<Box<dyn Demo>, String> {
    let server = SimServer::start(
        super::sim::fleet::demo_account(now),
        AccountConfig::default(),
    )
    .await
    .map_err(|e| format!("start the simulated Rackspace account: {e}"))?;
    Ok(Box::new(Running {
        server,
        account: AccountConfig::default(),
    }))
}

impl Demo for Running {
    fn source(&self) -> String {
        format!(
            "name = \"demo-rackspace\"\nkind = \"rackspace\"\nidentity_url = \"{}\"\nusername = \"{}\"\napi_key = \"{}\"\nregion = \"DFW\"\n",
            self.server.url(),
            self.account.username,
            self.account.api_key,
        )
    }
    fn banner(&self) -> (&'static str, String) {
        (
            "simulated Rackspace account",
            format!(
                "{}/v2.0/tokens (user {})",
                self.server.url(),
                self.account.username
            ),
        )
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.server.shutdown())
    }
}
