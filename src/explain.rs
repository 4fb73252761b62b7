//! What `list` and `show` print: the settings of profiles, the values derived
//! from them, and where each one came from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::profile::Profile;
use crate::settings::Settings;
use crate::tuning::{self, Tuning};

#[derive(Serialize)]
pub struct Explanation<'a> {
    profile: &'a str,
    settings: &'a Settings,
    derived: Derived,
    /// `key: file:line` for every resolved setting.
    sources: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Derived {
    connection_budget: Budget,
    postgresql: Tuning,
}

#[derive(Serialize)]
struct Budget {
    app_pods: u32,
    needed: u32,
    needed_with_margin: u32,
    /// Present when PgBouncer stands between the pods and the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pgbouncer: Option<PoolBudget>,
    server_connections: u32,
    available: u32,
    rule: String,
}

#[derive(Serialize)]
struct PoolBudget {
    replicas: u32,
    pool_size_per_replica: u32,
    max_client_conn_per_replica: u32,
    rule: String,
}

fn budget(settings: &Settings) -> Budget {
    let c = &settings.connections;
    let pgbouncer = settings.uses_pgbouncer().then(|| PoolBudget {
        replicas: settings.pgbouncer.replicas,
        pool_size_per_replica: settings.pgbouncer_pool_size(),
        max_client_conn_per_replica: c.needed_with_margin(),
        rule: format!(
            "{} app pods >= {}: PgBouncer (session pooling); pool per replica = min({} clients with margin, {} available / {} replicas) = {}, {} server connections at most",
            c.app_pods(),
            settings.pgbouncer.from_app_pods,
            c.needed_with_margin(),
            settings.available_connections(),
            settings.pgbouncer.replicas,
            settings.pgbouncer_pool_size(),
            settings.server_connections()
        ),
    });
    Budget {
        app_pods: c.app_pods(),
        needed: c.needed(),
        needed_with_margin: c.needed_with_margin(),
        pgbouncer,
        server_connections: settings.server_connections(),
        available: settings.available_connections(),
        rule: format!(
            "{}; server connections {} <= {}",
            c.need_explained(),
            settings.server_connections(),
            settings.available_explained()
        ),
    }
}

pub fn explain(profile: &Profile) -> Explanation<'_> {
    Explanation {
        profile: &profile.name,
        settings: &profile.settings,
        derived: Derived {
            connection_budget: budget(&profile.settings),
            postgresql: tuning::derive(&profile.settings),
        },
        sources: profile
            .origins
            .iter()
            .map(|(key, origin)| (*key, origin.to_string()))
            .collect(),
    }
}

/// One row per profile, aligned columns.
pub fn table(profiles: &[Profile]) -> String {
    let header = [
        "PROFILE",
        "STORAGE",
        "REQUESTS",
        "LIMITS",
        "APP PODS",
        "CONNECTIONS",
        "DESCRIPTION",
    ];
    let rows: Vec<[String; 7]> = profiles
        .iter()
        .map(|p| {
            let s = &p.settings;
            let c = &s.connections;
            [
                p.name.clone(),
                format!("{} {}", s.storage.size, s.storage.class),
                format!(
                    "{}, {}",
                    s.resources.requests.memory, s.resources.requests.cpu
                ),
                format!("{}, {}", s.resources.limits.memory, s.resources.limits.cpu),
                format!("{} + {}", c.web_pods, c.worker_pods),
                format!(
                    "{}/{}{}",
                    s.server_connections(),
                    s.available_connections(),
                    if s.uses_pgbouncer() {
                        " via PgBouncer"
                    } else {
                        ""
                    }
                ),
                s.description.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
