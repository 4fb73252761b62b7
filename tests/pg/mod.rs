//! The harness of the tests against the real programs that read palgen's
//! output: Debian's PostgreSQL server and clients, PostgreSQL 18's server
//! programs, PgBouncer and prometheus-postgres-exporter. `tests/postgres.rs`,
//! `tests/replication.rs` and `tests/postgres18.rs` run on it.
//!
//! - Every program runs in a temporary directory of its test ([`Sandbox`])
//!   with a clean environment, as the `postgres` OS user of the Debian
//!   package when the tests run as root (as in CI): PostgreSQL and PgBouncer
//!   refuse root, and the generated pg_hba.conf admits the local socket by
//!   `peer`, so only the OS user `postgres` may connect there as the role
//!   `postgres`. The switch is what `runuser -u postgres --` does (setgid,
//!   setgroups(0), setuid), done by `std::process` so that every server is a
//!   direct child of the test and its guard can stop it by its pid.
//! - Every server listens on a free loopback port (another one when the port
//!   was taken in the meantime) and is stopped when its guard ([`Daemon`],
//!   [`Server`]) is dropped, also when a test fails.
//! - Every wait is bounded ([`WAIT`]); a failure shows the programs' logs.
//! - A missing program fails the test and names the Debian package that has
//!   it (./scripts/test.sh installs them all).
//!
//! - `process.rs`: the programs, the OS user, sandboxes, daemons, waiting;
//! - `server.rs`: PostgreSQL servers, `psql`, and [`TempCluster`], one
//!   server with a profile's generated configuration;
//! - `generated.rs`: palgen's rendered tree and built objects;
//! - `pgbouncer.rs`: PgBouncer with a generated pgbouncer.ini;
//! - `conf.rs`: postgresql.conf as PostgreSQL reads it, and pg_settings;
//! - `tls.rs`: certificates made with openssl for the generated names.
//! - `pg18.rs`: PostgreSQL 18's server programs (built from source, not
//!   Debian's), for the sandboxes of [`Sandbox::with_install`];
//! - `entrypoint.rs` (with `entrypoint.sh`): the StatefulSet's container on
//!   its first start, as the postgres image's entrypoint initialises it.

#![allow(dead_code)] // each test crate uses a different subset

use std::fs;
use std::path::Path;

mod conf;
mod entrypoint;
mod generated;
mod pg18;
mod pgbouncer;
mod process;
mod server;
mod tls;

pub use conf::*;
#[allow(unused_imports)] // only tests/postgres18.rs uses these
pub use entrypoint::*;
pub use generated::*;
#[allow(unused_imports)]
pub use pg18::*;
#[allow(unused_imports)] // only the crates that run PgBouncer use it
pub use pgbouncer::*;
pub use process::*;
pub use server::*;
pub use tls::*;

/// The Secret's keys, as files of the credentials directory. The passwords
/// hold quotes, backslashes, colons, dollar signs and spaces, so that every
/// script that passes one on (into SQL, into a .pgpass) must quote it right.
pub const POSTGRES_PASSWORD: &str = r#"su'per "user" $HOME \pw"#;
pub const APP_PASSWORD: &str = r#"app 'pass' with "quotes" and \ $PATH"#;
pub const EXPORTER_PASSWORD: &str = "exp0rter:p@ss/w%rd";
pub const REPLICATION_PASSWORD: &str = r#"re:pl\i'ca "tion" $PW:\"#;

/// The names of the files in a directory, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
