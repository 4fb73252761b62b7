//! PostgreSQL 18, the major of the image the manifests name. Debian 12 has
//! no such server: ./scripts/test.sh builds one from Debian's source package
//! (scripts/install-postgres18.sh), with lz4 as the official image has it,
//! into `.tools/pg18` and names its `bin` directory in `PALGEN_PG18_BIN`.
//! The clients (psql, pg_isready) stay Debian's.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::repo_root;

use super::{PostgresInstall, program_version};

/// The environment variable that names the directory of PostgreSQL 18's
/// server programs.
pub const PG18_BIN_VAR: &str = "PALGEN_PG18_BIN";

/// Where ./scripts/test.sh installs them, for a `cargo test` run without it.
const PG18_DEFAULT_BIN: &str = ".tools/pg18/bin";

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
                 {PG18_DEFAULT_BIN}): run ./scripts/test.sh, which builds PostgreSQL 18 \
                 there",
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
