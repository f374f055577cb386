//! What the binary says of its build (`--version`, `backup_exporter_build_info`): version,
//! git revision and branch, build date and rustc, from `build.rs` for any `cargo build`. The
//! revision given by BACKUP_EXPORTER_REVISION at build time (the Dockerfile's build argument,
//! for a context without .git) wins over git's.

/// The crate's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A build fact, or `None` when it is unset, said unknown, or the placeholder the build
/// script writes for a fact it could not get (no git).
const fn known(value: Option<&'static str>) -> Option<&'static str> {
    match value {
        Some(v)
            if !v.is_empty()
                && !matches!(v.as_bytes(), b"unknown" | b"VERGEN_IDEMPOTENT_OUTPUT") =>
        {
            Some(v)
        }
        _ => None,
    }
}

/// The git revision (short), BACKUP_EXPORTER_REVISION first.
pub fn revision() -> &'static str {
    known(option_env!("BACKUP_EXPORTER_REVISION"))
        .or(known(option_env!("VERGEN_GIT_SHA")))
        .unwrap_or("unknown")
}

/// The git branch.
pub fn branch() -> &'static str {
    known(option_env!("VERGEN_GIT_BRANCH")).unwrap_or("unknown")
}

/// The day of the build (UTC, YYYY-MM-DD).
pub fn build_date() -> &'static str {
    known(option_env!("VERGEN_BUILD_DATE")).unwrap_or("unknown")
}

/// The compiler's version.
pub fn rustc() -> &'static str {
    known(option_env!("BACKUP_EXPORTER_RUSTC"))
        .or(known(option_env!("VERGEN_RUSTC_SEMVER")))
        .unwrap_or("unknown")
}

/// `--version`'s text, as Prometheus' exporters print theirs.
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| format!(
        "{VERSION} (branch: {}, revision: {})\n  build date: {}\n  rustc version: {}\n  platform: {}/{}",
        branch(),
        revision(),
        build_date(),
        rustc(),
        std::env::consts::OS,
        std::env::consts::ARCH,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_build_knows_its_facts() {
        // Built by cargo in this git checkout: every fact is known.
        for (name, value) in [
            ("revision", revision()),
            ("branch", branch()),
            ("build date", build_date()),
            ("rustc", rustc()),
        ] {
            assert_ne!(value, "unknown", "{name}");
        }
        assert!(
            revision().chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            revision()
        );
        assert_eq!(build_date().len(), 10, "{}", build_date());
        assert!(rustc().starts_with("1."), "{}", rustc());
        assert!(long_version().starts_with(&format!("{VERSION} (branch: ")));
    }

    #[test]
    fn unknown_is_not_a_fact() {
        assert_eq!(known(Some("unknown")), None);
        assert_eq!(known(Some("VERGEN_IDEMPOTENT_OUTPUT")), None);
        assert_eq!(known(Some("")), None);
        assert_eq!(known(None), None);
        assert_eq!(known(Some("abc123")), Some("abc123"));
    }
}
