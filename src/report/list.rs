//! What `list` prints: one row per profile with its key settings.

use crate::model::settings::Engine;
use crate::profile::{Profile, identity};

/// One row per profile, aligned columns.
pub fn table(profiles: &[Profile]) -> String {
    let header = [
        "PROFILE",
        "STORAGE",
        "REQUESTS",
        "LIMITS",
        "APP PODS",
        "CONNECTIONS",
        "BACKUP IDENTITY",
        "DESCRIPTION",
    ];
    let rows: Vec<[String; 8]> = profiles
        .iter()
        .map(|p| {
            let s = &p.settings;
            let c = &s.connections;
            let budget = &p.derived.connection_budget;
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
                    budget.server_connections,
                    budget.available,
                    if budget.uses_pgbouncer() {
                        " via PgBouncer"
                    } else {
                        ""
                    }
                ),
                backup_identity(p),
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

/// Whether the off-site backup can authenticate: `-` without one, the key
/// to set when it cannot (render, check and plan warn about it too).
fn backup_identity(profile: &Profile) -> String {
    let s = &profile.settings;
    match identity::missing_key(s) {
        Some(key) => format!("set {key}"),
        None if !s.backup.enabled => "-".to_owned(),
        None if s.engine == Engine::CloudNativePg && s.cloudnative_pg.object_store.is_none() => {
            "-".to_owned()
        }
        None if s.engine == Engine::StatefulSet && !s.backup.offsite.enabled() => "-".to_owned(),
        None => "ok".to_owned(),
    }
}
