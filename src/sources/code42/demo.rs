//! The demo's Code42 console: the simulator with the demo fleet.

use futures_util::future::BoxFuture;

use super::sim::{ConsoleConfig, LocalAccount, SimServer};
use crate::sim::Simulator;
use crate::sources::Demo;

const USER: &str = "demo@example.com";
const PASSWORD: &str = "demo-password";

struct Running(SimServer);

pub async fn start(now: chrono::DateTime<chrono::Utc>) -> Result<Box<dyn Demo>, String> {
    let config = ConsoleConfig {
        accounts: vec![LocalAccount {
            username: USER.into(),
            password: PASSWORD.into(),
            totp_secret: None,
            admin: true,
        }],
        ..Default::default()
    };
    let server = SimServer::start(super::sim::fleet::demo_console(now), config)
        .await
        .map_err(|e| format!("start the simulated Code42 console: {e}"))?;
    Ok(Box::new(Running(server)))
}

impl Demo for Running {
    fn source(&self) -> String {
        format!(
            "name = \"demo-code42\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\npage_size = 10\n",
            self.0.url()
        )
    }
    fn banner(&self) -> (&'static str, String) {
        (
            "simulated Code42 console",
            format!("{}/api/v1/Computer (user {USER})", self.0.url()),
        )
    }
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.0.shutdown())
    }
}
