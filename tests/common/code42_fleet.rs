//! A small Code42 fleet for the end-to-end alerting tests (tests/alerting.rs, tests/bridge.rs):
//! one device whose last backup is five days old ([`STALE`]) among healthy ones ([`HEALTHY`]),
//! as the simulated console (`backup_exporter::sources::code42::sim`) serves it. [`console_with`] gives
//! the same fleet with other backup ages, for `SimServer::set_dataset` mid-test.

use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{ConsoleConfig, Dataset, LocalAccount, SimServer};
use chrono::{DateTime, Duration as Age, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The device five days stale in [`console`].
pub const STALE: &str = "FIN-WS-0042";
/// The devices backed up minutes ago in [`console`].
pub const HEALTHY: &[&str] = &["HR-LT-0007", "ENG-BUILD-01", "SALES-LT-0019"];
/// The one backup target of every device.
pub const TARGET: &str = "Code42 Cloud USA West";

/// `now - ago` as Code42 writes times.
pub fn at(now: DateTime<Utc>, ago: Age) -> String {
    (now - ago).to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// The guid (the exporter's `device_id`) of the `n`th computer of [`computer`].
pub fn guid(n: u64) -> String {
    format!("{}", 904_625_697_166_989_000u64 + n)
}

/// The `device_id` of a device of the fleet ([`STALE`] or one of [`HEALTHY`]).
pub fn device_id(name: &str) -> String {
    let n = std::iter::once(STALE)
        .chain(HEALTHY.iter().copied())
        .position(|d| d == name)
        .unwrap_or_else(|| panic!("{name} is not a device of the fleet"));
    guid(n as u64 + 1)
}

/// A Code42 computer as `GET /api/v1/Computer?incBackupUsage=true` lists it (the document's
/// field names and shapes), backing up to the cloud; its last completed backup `age` ago.
pub fn computer(n: u64, name: &str, age: Age, alert: &str, now: DateTime<Utc>) -> Value {
    json!({
        "computerId": 7000 + n,
        "name": name,
        "guid": guid(n),
        "type": "COMPUTER",
        "status": "Active",
        "active": true,
        "blocked": false,
        "alertState": if alert == "OK" { 0 } else { 1 },
        "alertStates": [alert],
        "userId": 42,
        "orgId": 2,
        "lastConnected": at(now, Age::minutes(2)),
        "osName": "win64",
        "osVersion": "10.0",
        "productVersion": "11.2.1",
        "creationDate": at(now, Age::days(400)),
        "backupUsage": [{
            "targetComputerId": 1,
            "targetComputerGuid": "893401856287712001",
            "targetComputerName": TARGET,
            "targetComputerType": "SERVER",
            "selectedFiles": 120_431,
            "selectedBytes": 48_318_382_080u64,
            "todoFiles": 0,
            "todoBytes": 0,
            "archiveBytes": 39_728_447_488u64,
            "billableBytes": 39_728_447_488u64,
            "sendRateAverage": 2_400_000,
            "lastBackup": at(now, age),
            "lastCompletedBackup": at(now, age),
            "lastConnected": at(now, Age::minutes(2)),
            "creationDate": at(now, Age::days(399)),
            "using": true,
            "alertState": if alert == "OK" { 0 } else { 1 },
            "alertStates": [alert],
            "percentComplete": 100,
            "storePointId": 11,
            "storePointName": "cloud-west-01"
        }]
    })
}

/// The fleet: [`STALE`] last backed up 5 days ago (Code42 warns about it), the [`HEALTHY`]
/// ones 40, 65 and 90 minutes ago.
pub fn console(now: DateTime<Utc>) -> Dataset {
    console_with(now, &[])
}

/// [`console`] with the last backup of some devices `ages` ago instead. Code42's alert state
/// follows the age: `WarningBackupAlert` past a day (never critical: only staleness alerts).
pub fn console_with(now: DateTime<Utc>, ages: &[(&str, Age)]) -> Dataset {
    let default_age = |i: usize| {
        if i == 0 {
            Age::days(5)
        } else {
            Age::minutes(40 + 25 * (i as i64 - 1))
        }
    };
    let computers = std::iter::once(STALE)
        .chain(HEALTHY.iter().copied())
        .enumerate()
        .map(|(i, name)| {
            let age = ages
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| default_age(i), |(_, a)| *a);
            let alert = if age > Age::days(1) {
                "WarningBackupAlert"
            } else {
                "OK"
            };
            computer(i as u64 + 1, name, age, alert, now)
        })
        .collect();
    Dataset {
        computers,
        ..Dataset::default()
    }
}

/// The simulated console serving `dataset`, signed in to with one local admin account
/// (`username`, `password`; no second factor).
pub async fn serve(dataset: Dataset, username: &str, password: &str) -> SimServer {
    SimServer::start(
        dataset,
        ConsoleConfig {
            accounts: vec![LocalAccount {
                username: username.into(),
                password: password.into(),
                totp_secret: None,
                admin: true,
            }],
            ..ConsoleConfig::default()
        },
    )
    .await
    .expect("simulated console starts")
}
