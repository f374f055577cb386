//! Build facts for `--version` and `backup_exporter_build_info`: the git revision and branch
//! (from the `git` command line), the build date and the rustc version. Outside a git checkout
//! (a source tarball, a Docker context without .git) the git facts are missing and the binary
//! says "unknown", unless BACKUP_EXPORTER_REVISION gives the revision (the Dockerfile's build
//! argument).

use vergen_gitcl::{BuildBuilder, Emitter, GitclBuilder, RustcBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-env-changed=BACKUP_EXPORTER_REVISION");
    let build = BuildBuilder::default().build_date(true).build()?;
    let rustc = RustcBuilder::default().semver(true).build()?;
    let git = GitclBuilder::default()
        .sha(true)
        .branch(true)
        .dirty(true)
        .build()?;
    // A fact that cannot be had (no git) is left unset rather than failing the build.
    let emitted = Emitter::default()
        .add_instructions(&build)?
        .add_instructions(&rustc)?
        .add_instructions(&git)?
        .emit();
    if let Err(e) = emitted {
        println!("cargo:warning=build facts unavailable: {e}");
    }
    Ok(())
}
