//! The simulated CrashPlan PRO server of the benchmarks: the bench account and the large fleet.

use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::fleet::demo_fleet;
use backup_exporter::sources::crashplan::sim::{Dataset, SimConfig, SimServer};
use serde_json::{json, Value};

pub const USERNAME: &str = "bench";
pub const PASSWORD: &str = "bench-password";

/// The simulator's account: [`USERNAME`], an administrator.
pub fn sim_config() -> SimConfig {
    SimConfig {
        username: USERNAME.into(),
        password: PASSWORD.into(),
        admin: true,
    }
}

/// The `[[source]]` table `bench` reading `server` as [`USERNAME`]; the caller adds its keys.
pub fn source(server: &SimServer) -> String {
    format!(
        "[[source]]\nname = \"bench\"\nkind = \"crashplan\"\nurl = \"{}\"\nusername = \"{USERNAME}\"\npassword = \"{PASSWORD}\"\n",
        server.url()
    )
}

/// The demo fleet's clients replicated to `n` computers, each with one usage.
pub fn large_fleet(n: usize) -> Dataset {
    let base = demo_fleet(chrono::Utc::now());
    let template_usage = base
        .usages
        .iter()
        .find(|u| u["targetId"] == json!(1) && u["lastActivity"].is_string())
        .cloned()
        .expect("a healthy usage in the demo fleet");
    let template_computer = base
        .computers
        .iter()
        .find(|c| c["id"] == template_usage["sourceId"])
        .cloned()
        .expect("its computer");
    let mut computers: Vec<Value> = base
        .computers
        .iter()
        .filter(|c| c["id"] == json!(1) || c["id"] == json!(2))
        .cloned()
        .collect();
    let mut usages = Vec::with_capacity(n);
    for i in 0..n {
        let id = 1000 + i as u64;
        let guid = 700_000_000_000_000_000u64 + i as u64 * 7919;
        let mut c = template_computer.clone();
        c["id"] = json!(id);
        c["guid"] = json!(guid);
        c["name"] = json!(format!("host-{i:05}.bench.example"));
        computers.push(c);
        let mut u = template_usage.clone();
        u["sourceId"] = json!(id);
        u["sourceGuid"] = json!(guid);
        u["selectedBytes"] = json!(10_000_000_000u64 + i as u64);
        usages.push(u);
    }
    Dataset {
        computers,
        usages,
        ..base
    }
}
