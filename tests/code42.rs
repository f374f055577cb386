//! The Code42 source end to end over real HTTP: the simulated console serves the vendor
//! document's sample (and generated fleets), with page-number paging, token sign-in (JWT,
//! TOTP, API client, token file), token expiry and injected faults; the exporter reads it as
//! it would read a production console.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use backup_exporter::app;
use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::fleet as code42_fleet;
use backup_exporter::sources::code42::sim::{
    ApiClient, ConsoleConfig, Dataset, Fault, LocalAccount, SimServer,
};
use common::{assert_golden, samples, EVERY_FAMILY};

const USER: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";
const TOTP_USER: &str = "twofactor@example.com";
const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const CLIENT_ID: &str = "key-4f1b";
const CLIENT_SECRET: &str = "client-secret-value";
const STATIC_TOKEN: &str = "static-token-from-the-console-ui";
const VIEWER: &str = "viewer@example.com";

fn console_config() -> ConsoleConfig {
    ConsoleConfig {
        accounts: vec![
            LocalAccount {
                username: USER.into(),
                password: PASSWORD.into(),
                totp_secret: None,
                admin: true,
            },
            LocalAccount {
                username: TOTP_USER.into(),
                password: PASSWORD.into(),
                totp_secret: Some(TOTP_SECRET.into()),
                admin: true,
            },
            LocalAccount {
                username: VIEWER.into(),
                password: PASSWORD.into(),
                totp_secret: None,
                admin: false,
            },
        ],
        api_clients: vec![ApiClient {
            client_id: CLIENT_ID.into(),
            secret: CLIENT_SECRET.into(),
            admin: true,
        }],
        static_tokens: vec![(STATIC_TOKEN.into(), true)],
        ..ConsoleConfig::default()
    }
}

async fn console(dataset: Dataset) -> SimServer {
    console_with(dataset, console_config()).await
}

async fn console_with(dataset: Dataset, config: ConsoleConfig) -> SimServer {
    SimServer::start(dataset, config)
        .await
        .expect("simulated console starts")
}

/// One code42 source `console` reading `url` as `USER`; `extra` lines go into the source table.
fn config(url: &str, extra: &str) -> Config {
    config_as(
        url,
        &format!("username = \"{USER}\"\npassword = \"{PASSWORD}\"\n{extra}"),
    )
}

/// One code42 source with only `auth_lines` (and `timeout`) given.
fn config_as(url: &str, auth_lines: &str) -> Config {
    Config::from_toml_str(&format!(
        r#"
        {EVERY_FAMILY}
        [[source]]
        name = "console"
        kind = "code42"
        url = "{url}"
        timeout = "2s"
        {auth_lines}
        "#
    ))
    .expect("test configuration is valid")
}

async fn refresh_once(cfg: &Config) -> (Arc<Exporter>, Outcome) {
    let (exporter, mut sources) = Exporter::new(cfg).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    (exporter, outcome)
}

fn text(exporter: &Exporter) -> String {
    String::from_utf8(exporter.rendered().text().to_vec()).unwrap()
}

fn failed_reason(o: &Outcome) -> &'static str {
    match o {
        Outcome::Failed { reason, .. } => reason,
        Outcome::Ok => panic!("refresh succeeded"),
    }
}

fn message(o: &Outcome) -> String {
    match o {
        Outcome::Failed { message, .. } => message.clone(),
        Outcome::Ok => String::new(),
    }
}

fn computer_paths(server: &SimServer) -> Vec<String> {
    server
        .requested_paths()
        .into_iter()
        .filter(|p| p.starts_with("/api/v1/Computer"))
        .collect()
}

/// Computers the console serves with `active=true`.
fn active(dataset: &Dataset) -> usize {
    dataset
        .computers
        .iter()
        .filter(|c| c["active"] == serde_json::json!(true))
        .count()
}

fn devices(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("backup_device_info{"))
        .count()
}

const ALPHA: &str = r#"system="code42",source="console",device="Alpha",device_id="619174385806213377",target="Code42 Server""#;
const BETA: &str = r#"system="code42",source="console",device="Beta",device_id="631663249095393537",target="Code42 Server""#;

/// `once` on the document's own sample, compared line by line with the golden file.
/// Regenerate with `UPDATE_GOLDEN=1 cargo test --test code42`, then review the diff.
#[tokio::test]
async fn document_sample_matches_the_golden_exposition() {
    let server = console(code42_fleet::document_sample()).await;
    let (text, ok) = app::once(&config(&server.url(), "")).await.unwrap();
    assert!(ok, "{text}");
    assert_golden("code42_document.prom", &text);

    // The facts of the document, independent of the golden file.
    let s = samples(&text);
    let at = |family: &str, labels: &str| s.get(&format!("{family}{{{labels}}}")).copied();
    assert_eq!(
        at("backup_last_success_timestamp_seconds", ALPHA),
        Some(1_407_442_452.802)
    );
    assert_eq!(at("backup_last_success_timestamp_seconds", BETA), None);
    assert_eq!(
        at("backup_last_activity_timestamp_seconds", BETA),
        Some(1_407_443_228.191)
    );
    assert_eq!(at("backup_completion_ratio", ALPHA), Some(1.0));
    assert_eq!(at("backup_completion_ratio", BETA), Some(0.0));
    assert_eq!(at("backup_todo_bytes", BETA), Some(798_675_763.0));
    assert_eq!(
        at("backup_alert_state", &format!("{ALPHA},state=\"OK\"")),
        Some(1.0)
    );
    assert_eq!(
        at(
            "backup_alert_state",
            &format!("{BETA},state=\"CriticalBackupAlert\"")
        ),
        None
    );
    assert_eq!(
        s[r#"backup_exporter_source_up{source="console",system="code42"}"#],
        1.0
    );
    // One sign-in, every computer in one page, nothing per device.
    assert_eq!(server.auth_count(), 1);
    assert_eq!(server.request_count("computers"), 1);
}

#[tokio::test]
async fn lists_are_paged_to_the_end_with_no_per_device_request() {
    let now = chrono::Utc::now();
    let dataset = code42_fleet::large_console(1234, 2, now);
    let n = active(&dataset);
    assert!(n > 1100 && n < 1234, "some of the fleet is deactivated");
    let pages = n / 100 + 1;
    let server = console(dataset).await;
    let (exporter, outcome) = refresh_once(&config(&server.url(), "page_size = 100")).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    let t = text(&exporter);
    assert_eq!(devices(&t), n);
    assert_eq!(
        t.lines()
            .filter(|l| l.starts_with("backup_selected_bytes{"))
            .count(),
        2 * n
    );
    let paths = computer_paths(&server);
    assert_eq!(paths.len(), pages, "{paths:?}");
    for n in 1..=pages {
        let want = format!("pgNum={n}&pgSize=100");
        assert!(
            paths.iter().any(|p| p.contains(&want)
                && p.contains("incBackupUsage=true")
                && p.contains("active=true")),
            "{want} in {paths:?}"
        );
    }
    // No per-device request: computers pages, users and orgs pages, store points, servers.
    let total = server.requested_paths().len();
    assert!(total < 3 * pages + 6, "{total} requests");
}

#[tokio::test]
async fn an_exact_multiple_ends_with_an_empty_page() {
    let now = chrono::Utc::now();
    // Every device active: 300 of them, an exact multiple of the page size.
    let mut dataset = code42_fleet::large_console(300, 1, now);
    for c in &mut dataset.computers {
        c["active"] = serde_json::json!(true);
        c["status"] = serde_json::json!("Active");
    }
    let server = console(dataset).await;
    // totalCount says 300: pages 2 and 3 are fetched as announced, then page 4 proves the end.
    let (exporter, outcome) = refresh_once(&config(&server.url(), "page_size = 100")).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), 300);
    assert_eq!(computer_paths(&server).len(), 4);
}

#[tokio::test]
async fn a_page_size_cap_is_detected_and_followed() {
    let now = chrono::Utc::now();
    let dataset = code42_fleet::large_console(600, 1, now);
    let n = active(&dataset);
    assert!(n > 500);
    let server = console_with(
        dataset,
        ConsoleConfig {
            max_page_size: Some(250),
            ..console_config()
        },
    )
    .await;
    let (exporter, outcome) = refresh_once(&config(&server.url(), "page_size = 500")).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), n);
    let paths = computer_paths(&server);
    assert!(paths[0].contains("pgNum=1&pgSize=500"), "{paths:?}");
    assert!(
        paths.iter().any(|p| p.contains("pgNum=3&pgSize=250")),
        "{paths:?}"
    );
    assert_eq!(paths.len(), 3, "{paths:?}");
}

/// A totalCount below the list does not end it early; one above it (the pages list fewer
/// devices than the console counts, down to none at all) fails the refresh with
/// `inconsistent`, keeping the last good data.
#[tokio::test]
async fn a_lying_total_count_does_not_end_the_list_and_a_short_list_is_refused() {
    let now = chrono::Utc::now();
    let dataset = code42_fleet::large_console(420, 1, now);
    let n = active(&dataset);
    let server = console(dataset).await;
    server.faults().set_count_off_by(-150);
    let cfg = config(&server.url(), "page_size = 100");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), n, "totalCount off by -150");
    let before = text(&exporter);
    for (off_by, dataset) in [
        (170, code42_fleet::large_console(420, 1, now)),
        (3, Dataset::default()),
    ] {
        server.set_dataset(dataset);
        server.faults().set_count_off_by(off_by);
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        match &outcome {
            Outcome::Failed { reason, message } => {
                assert_eq!(*reason, "inconsistent", "{message}");
                assert!(message.contains("totalCount"), "{message}");
            }
            Outcome::Ok => panic!("a list shorter than totalCount (+{off_by}) was accepted"),
        }
        assert_eq!(
            common::data_lines(&before),
            common::data_lines(&text(&exporter))
        );
    }
}

#[tokio::test]
async fn a_console_that_ignores_paging_is_read_once() {
    let now = chrono::Utc::now();
    let dataset = code42_fleet::large_console(150, 1, now);
    let n = active(&dataset);
    assert!(n > 100);
    let server = console(dataset).await;
    server.faults().set_ignore_paging(true);
    let (exporter, outcome) = refresh_once(&config(&server.url(), "page_size = 100")).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), n);
    assert_eq!(computer_paths(&server).len(), 1);
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_the_request_repeated_once() {
    let server = console(code42_fleet::document_sample()).await;
    let cfg = config(&server.url(), "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert_eq!(server.auth_count(), 1);
    // The token is reused while valid.
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert_eq!(server.auth_count(), 1);
    // The console forgets every token (restart, expiry): one 401, one sign-in, same result.
    server.expire_tokens();
    server.clear_requests();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert_eq!(server.auth_count(), 2);
    assert!(text(&exporter).contains("device=\"Beta\""));
    // Tokens of a short lifetime expire between refreshes just the same.
    let short = console_with(
        code42_fleet::document_sample(),
        ConsoleConfig {
            token_lifetime: Duration::from_millis(300),
            ..console_config()
        },
    )
    .await;
    let cfg = config(&short.url(), "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert_eq!(short.auth_count(), 2);
}

#[tokio::test]
async fn a_token_refused_twice_fails_with_unauthorized_after_one_retry() {
    let server = console(code42_fleet::document_sample()).await;
    server.faults().set(
        "computers",
        Fault {
            status: Some(401),
            ..Fault::default()
        },
    );
    let (exporter, outcome) = refresh_once(&config(&server.url(), "")).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");
    assert_eq!(server.request_count("computers"), 2, "one retry, no more");
    assert_eq!(server.auth_count(), 2);
    assert!(text(&exporter).contains(
        r#"backup_exporter_refresh_errors_total{reason="unauthorized",source="console",system="code42"} 1"#
    ));
}

#[tokio::test]
async fn wrong_credentials_are_refused_and_never_shown() {
    let server = console(code42_fleet::document_sample()).await;
    let cfg = config_as(
        &server.url(),
        &format!("username = \"{USER}\"\npassword = \"hunter2-wrong\""),
    );
    let (exporter, outcome) = refresh_once(&cfg).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");
    assert!(message(&outcome).contains("auth"), "{}", message(&outcome));
    assert!(!message(&outcome).contains("hunter2"));
    assert!(!text(&exporter).contains("hunter2"));
    assert_eq!(server.request_count("computers"), 0);
}

#[tokio::test]
async fn two_factor_accounts_send_the_current_totp_code() {
    let server = console(code42_fleet::document_sample()).await;
    let mut secret = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret, "{TOTP_SECRET}").unwrap();
    let with_code = config_as(
        &server.url(),
        &format!(
            "username = \"{TOTP_USER}\"\npassword = \"{PASSWORD}\"\ntotp_secret_file = {:?}",
            secret.path().display().to_string()
        ),
    );
    let (exporter, outcome) = refresh_once(&with_code).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), 2);

    let without = config_as(
        &server.url(),
        &format!("username = \"{TOTP_USER}\"\npassword = \"{PASSWORD}\""),
    );
    let (_, outcome) = refresh_once(&without).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");

    let wrong = config_as(
        &server.url(),
        &format!(
            "username = \"{TOTP_USER}\"\npassword = \"{PASSWORD}\"\ntotp_secret = \"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\""
        ),
    );
    let (exporter, outcome) = refresh_once(&wrong).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");
    assert!(!text(&exporter).contains("GEZDGNBV"));
}

#[tokio::test]
async fn api_clients_and_token_files_sign_in() {
    let server = console(code42_fleet::document_sample()).await;
    let client = config_as(
        &server.url(),
        &format!("auth = \"api_client\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\""),
    );
    let (exporter, outcome) = refresh_once(&client).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert_eq!(devices(&text(&exporter)), 2);
    assert_eq!(server.request_count("oauth"), 1);

    let bad_client = config_as(
        &server.url(),
        &format!("auth = \"api_client\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"nope\""),
    );
    let (_, outcome) = refresh_once(&bad_client).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");

    let mut token = tempfile::NamedTempFile::new().unwrap();
    writeln!(token, "{STATIC_TOKEN}").unwrap();
    let token_cfg = config_as(
        &server.url(),
        &format!(
            "auth = \"token\"\ntoken_file = {:?}",
            token.path().display().to_string()
        ),
    );
    let (exporter, mut sources) = Exporter::new(&token_cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    assert_eq!(devices(&text(&exporter)), 2);
    // The file is read again whenever a token is refused, so a rotated token is picked up
    // without a restart: here the console refuses once, and the file now holds a token it
    // does not know.
    std::fs::write(token.path(), "revoked-token\n").unwrap();
    server.faults().set_times(
        "computers",
        Fault {
            status: Some(401),
            ..Fault::default()
        },
        1,
    );
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert_eq!(failed_reason(&outcome), "unauthorized");
    std::fs::write(token.path(), format!("{STATIC_TOKEN}\n")).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
}

#[tokio::test]
async fn a_non_admin_account_gets_everything_but_store_capacity() {
    let server = console(code42_fleet::document_sample()).await;
    let admin = app::once(&config(&server.url(), "")).await.unwrap().0;
    assert!(admin.contains("crashplan_mount_point_info{"), "{admin}");
    let cfg = config_as(
        &server.url(),
        &format!("username = \"{VIEWER}\"\npassword = \"{PASSWORD}\""),
    );
    let (text, ok) = app::once(&cfg).await.unwrap();
    assert!(ok, "{text}");
    assert!(!text.contains("crashplan_mount_point_info{"));
    assert!(!text.contains("code42_server_info{"));
    assert_eq!(devices(&text), 2);
}

#[tokio::test]
async fn server_errors_fail_the_refresh_and_keep_the_last_good_data() {
    let server = console(code42_fleet::document_sample()).await;
    let cfg = config(&server.url(), "");
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    let good = samples(&text(&exporter));
    let cases = [
        (
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            "server_error",
        ),
        (
            Fault {
                truncate: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            Fault {
                garbage: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            Fault {
                delay: Some(Duration::from_secs(5)),
                ..Fault::default()
            },
            "timeout",
        ),
        (
            Fault {
                status: Some(403),
                ..Fault::default()
            },
            "forbidden",
        ),
    ];
    for (fault, reason) in cases {
        server.faults().set("computers", fault);
        let outcome = exporter.refresh(0, &mut sources[0]).await;
        assert_eq!(failed_reason(&outcome), reason);
        let after = samples(&text(&exporter));
        for (k, v) in good
            .iter()
            .filter(|(k, _)| !k.starts_with("backup_exporter_"))
        {
            assert_eq!(after.get(k), Some(v), "{k} kept after {reason}");
        }
        assert_eq!(
            after[r#"backup_exporter_source_up{source="console",system="code42"}"#],
            0.0
        );
    }
    // 503 once: retried, and the refresh succeeds.
    server.faults().clear_all();
    server.faults().set_times(
        "computers",
        Fault {
            status: Some(503),
            ..Fault::default()
        },
        1,
    );
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
    // An optional call failing with 500 fails the refresh too: no partial data.
    server.faults().set(
        "users",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    assert_eq!(
        failed_reason(&exporter.refresh(0, &mut sources[0]).await),
        "server_error"
    );
    // ... while a 404 (no such API on this console) only leaves its labels out.
    server.faults().set(
        "users",
        Fault {
            status: Some(404),
            ..Fault::default()
        },
    );
    assert!(matches!(
        exporter.refresh(0, &mut sources[0]).await,
        Outcome::Ok
    ));
}

#[tokio::test]
async fn the_demo_console_exports_its_special_devices() {
    let now = chrono::Utc::now();
    let server = console(code42_fleet::demo_console(now)).await;
    let (text, ok) = app::once(&config(&server.url(), "")).await.unwrap();
    assert!(ok, "{text}");
    let s = samples(&text);
    let paths = computer_paths(&server);
    assert!(paths.iter().all(|p| p.contains("active=true")), "{paths:?}");
    // Deactivated devices are left out by default ...
    assert!(!text.contains(&format!("device=\"{}\"", code42_fleet::DEACTIVATED_DEVICE)));
    // ... and included when asked for (the console is then asked for every device).
    server.clear_requests();
    let (all, ok) = app::once(&config(&server.url(), "include_deactivated = true"))
        .await
        .unwrap();
    assert!(ok);
    assert!(all.contains(&format!("device=\"{}\"", code42_fleet::DEACTIVATED_DEVICE)));
    assert!(computer_paths(&server)
        .iter()
        .all(|p| !p.contains("active=")));
    // A device that never completed a backup has activity but no success.
    let never = code42_fleet::NEVER_COMPLETED_DEVICE;
    let activity = s
        .keys()
        .filter(|k| {
            k.starts_with("backup_last_activity_timestamp_seconds{")
                && k.contains(&format!("device=\"{never}\""))
        })
        .count();
    let success = s
        .keys()
        .filter(|k| {
            k.starts_with("backup_last_success_timestamp_seconds{")
                && k.contains(&format!("device=\"{never}\""))
        })
        .count();
    assert!(
        activity > 0 && success == 0,
        "{never}: {activity} activity, {success} success"
    );
    // Every ratio within 0..1, and guids kept whole.
    for (k, v) in &s {
        if k.starts_with("backup_completion_ratio{") {
            assert!((0.0..=1.0).contains(v), "{k} {v}");
        }
        if let Some(rest) = k.split("device_id=\"").nth(1) {
            let id = rest.split('"').next().unwrap();
            assert!(id.chars().all(|c| c.is_ascii_digit()), "{k}");
        }
    }
    // The user and org lists give names.
    assert!(text.contains("user=\""), "{text}");
}

#[tokio::test]
async fn names_can_be_left_unresolved() {
    let now = chrono::Utc::now();
    let server = console(code42_fleet::demo_console(now)).await;
    let (text, ok) = app::once(&config(
        &server.url(),
        "resolve_names = false\norg_rollups = false",
    ))
    .await
    .unwrap();
    assert!(ok);
    assert_eq!(server.request_count("users"), 0);
    assert_eq!(server.request_count("orgs"), 0);
    assert!(!text.contains("code42_org_devices{"));
}

/// A device whose identity does not read (an object where its GUID belongs) is left out and
/// counted; the rest of the console is read and the list still agrees with totalCount.
#[tokio::test]
async fn a_device_whose_identity_does_not_read_is_left_out_and_counted() {
    let now = chrono::Utc::now();
    let mut dataset = code42_fleet::large_console(120, 1, now);
    let i = dataset
        .computers
        .iter()
        .position(|c| c["active"] == serde_json::json!(true))
        .unwrap();
    let n = active(&dataset);
    dataset.computers[i]["guid"] = serde_json::json!({"not": "an id"});
    let server = console(dataset).await;
    let (exporter, outcome) = refresh_once(&config(&server.url(), "page_size = 50")).await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    let text = text(&exporter);
    assert_eq!(devices(&text), n - 1);
    assert_eq!(
        samples(&text)[r#"backup_exporter_upstream_value_errors_total{source="console",system="code42"}"#],
        1.0
    );
}
