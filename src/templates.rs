//! Text that PostgreSQL and shells read, rendered from the templates in
//! `templates/` with the resolved settings as their only input.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::contract;
use crate::fingerprint::HEADER;
use crate::model::settings::Engine;
use crate::profile::Profile;

use minijinja::{Environment, context};

pub(crate) const TEMPLATES: [(&str, &str); 14] = [
    (
        "overlay-README.md",
        include_str!("../templates/overlay-README.md.j2"),
    ),
    ("pg_hba.conf", include_str!("../templates/pg_hba.conf.j2")),
    (
        "replica-bootstrap.sh",
        include_str!("../templates/replica-bootstrap.sh.j2"),
    ),
    (
        "replica-ready.sh",
        include_str!("../templates/replica-ready.sh.j2"),
    ),
    (
        "postgresql.conf",
        include_str!("../templates/postgresql.conf.j2"),
    ),
    (
        "initdb-paperless.sh",
        include_str!("../templates/initdb-paperless.sh.j2"),
    ),
    ("backup.sh", include_str!("../templates/backup.sh.j2")),
    ("restore.sh", include_str!("../templates/restore.sh.j2")),
    (
        "offsite-upload.sh",
        include_str!("../templates/offsite-upload.sh.j2"),
    ),
    (
        "offsite-fetch.sh",
        include_str!("../templates/offsite-fetch.sh.j2"),
    ),
    (
        "pgbouncer.ini",
        include_str!("../templates/pgbouncer.ini.j2"),
    ),
    (
        "pgbouncer-userlist.sh",
        include_str!("../templates/pgbouncer-userlist.sh.j2"),
    ),
    (
        "tls-reload.sh",
        include_str!("../templates/tls-reload.sh.j2"),
    ),
    (
        "cnpg-template1.sql",
        include_str!("../templates/cnpg-template1.sql.j2"),
    ),
];

/// Compiled once per process: compiling every template for every file
/// rendered was most of palgen's run time.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(environment);

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .expect("static syntax configuration");
    env.set_syntax(syntax);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Every name of the contract, the same for every profile: globals,
    // made once, not part of each profile's context.
    for (key, text) in contract::TEXT {
        env.add_global(*key, *text);
    }
    for (key, number) in contract::NUMBERS {
        env.add_global(*key, *number);
    }
    env.add_global("header", HEADER);
    env.add_global(
        "tls_cert_file",
        format!("{}/{}", contract::TLS_DIR, contract::TLS_CERT_KEY),
    );
    env.add_global(
        "tls_key_file",
        format!("{}/{}", contract::TLS_DIR, contract::TLS_PRIVATE_KEY_KEY),
    );
    env.add_global("tls_ca_file", contract::tls_ca_file());
    env.add_global(
        "offsite_unconfigured_exit",
        contract::OFFSITE_UNCONFIGURED_EXIT,
    );
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("built-in templates are valid");
    }
    env
}

/// Renders one built-in template for a profile.
pub fn render(name: &str, profile: &Profile) -> String {
    Context::new(profile).render(name)
}

/// What the templates of one profile are rendered with, made once for all
/// of them: serialising the settings for the template engine cost more
/// than rendering a template.
pub struct Context(minijinja::Value);

impl Context {
    pub fn new(profile: &Profile) -> Context {
        Context(context(profile))
    }

    /// Renders one built-in template.
    pub fn render(&self, name: &str) -> String {
        render_with(name, self.0.clone())
    }
}

/// The README of an overlay, which also lists the objects it deploys and
/// the components it builds on.
pub fn overlay_readme(
    profile: &Profile,
    objects: &[String],
    components: &[&'static str],
) -> String {
    render_with(
        "overlay-README.md",
        context! { objects => objects.to_vec(), components => components.to_vec(), ..context(profile) },
    )
}

/// Everything a template may print: the settings, the values derived from
/// them (the names of the contract are the environment's globals).
fn context(profile: &Profile) -> minijinja::Value {
    let settings = &profile.settings;
    let budget = &profile.derived.connection_budget;
    let values = [
        ("profile", minijinja::Value::from(profile.name.as_str())),
        // The profile's namespace, over the base's of the contract.
        (
            "namespace",
            minijinja::Value::from(settings.namespace.as_str()),
        ),
        (
            "base_namespace",
            minijinja::Value::from(contract::NAMESPACE),
        ),
        (
            "settings",
            minijinja::Value::from(minijinja::value::Serde(settings)),
        ),
        (
            "tuning",
            minijinja::Value::from(minijinja::value::Serde(&profile.derived.postgresql)),
        ),
        (
            "image_major",
            minijinja::Value::from(settings.image.major()),
        ),
        (
            "max_client_conn",
            minijinja::Value::from(budget.needed_with_margin),
        ),
        (
            "pool_size",
            minijinja::Value::from(
                budget
                    .pgbouncer
                    .as_ref()
                    .map(|pool| pool.pool_size_per_replica),
            ),
        ),
        (
            "uses_pgbouncer",
            minijinja::Value::from(budget.uses_pgbouncer()),
        ),
        (
            "server_connections",
            minijinja::Value::from(budget.server_connections),
        ),
        (
            "available_connections",
            minijinja::Value::from(budget.available),
        ),
        (
            "max_slot_wal_keep_size",
            minijinja::Value::from(
                settings
                    .replication
                    .max_slot_wal_keep_size
                    .to_postgres_units(),
            ),
        ),
    ];
    let engine_and_offsite = [
        (
            "cloudnative_pg",
            minijinja::Value::from(settings.engine == Engine::CloudNativePg),
        ),
        (
            "offsite_missing_key",
            minijinja::Value::from(settings.backup.offsite.missing_key()),
        ),
        (
            "backup_missing_key",
            minijinja::Value::from(crate::profile::identity::missing_key(settings)),
        ),
    ];
    let all: BTreeMap<&str, minijinja::Value> =
        values.into_iter().chain(engine_and_offsite).collect();
    minijinja::Value::from(all)
}

fn render_with(name: &str, ctx: minijinja::Value) -> String {
    let text = ENVIRONMENT
        .get_template(name)
        .and_then(|template| template.render(ctx))
        .unwrap_or_else(|e| panic!("built-in template {name} failed to render: {e:#}"));
    crate::fingerprint::stamp(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `value` occurs in `text` as a whole word (not inside a longer
    /// name, path or file name): byte offsets.
    fn occurrences(text: &str, value: &str) -> Vec<usize> {
        let part_of_name = |c: char| c.is_ascii_alphanumeric() || "_-./".contains(c);
        text.match_indices(value)
            .map(|(at, _)| at)
            .filter(|&at| {
                let before = text[..at].chars().next_back();
                let after = text[at + value.len()..].chars().next();
                !before.is_some_and(part_of_name)
                    && !after.is_some_and(|c| part_of_name(c) && c != '.' && c != '/')
            })
            .collect()
    }

    /// A template's literal text: what is left once the expressions,
    /// statements and comments are blanked out.
    fn literal_text(template: &str) -> String {
        let mut text = template.to_owned();
        for (open, close) in [("{{", "}}"), ("{%", "%}"), ("{#", "#}")] {
            while let Some(start) = text.find(open) {
                let end = text[start..].find(close).expect("closed tag") + start + close.len();
                text.replace_range(start..end, " ");
            }
        }
        text
    }

    /// Literal words that are syntax of the file, not our names.
    const SYNTAX: [(&str, &str); 1] = [("pgbouncer.ini", "pgbouncer")];

    #[test]
    fn templates_write_no_contract_value_literally() {
        let mut found = Vec::new();
        for (name, source) in TEMPLATES {
            let text = literal_text(source);
            for (key, value) in contract::TEXT {
                if SYNTAX.contains(&(name, value)) {
                    continue;
                }
                for at in occurrences(&text, value) {
                    let line = text[..at].lines().count().max(1);
                    found.push(format!("{name}:{line}: {value:?} (use {{{{ {key} }}}})"));
                }
            }
            for (key, number) in contract::NUMBERS.iter().filter(|(_, n)| *n >= 1024) {
                for at in occurrences(&text, &number.to_string()) {
                    let line = text[..at].lines().count().max(1);
                    found.push(format!("{name}:{line}: {number} (use {{{{ {key} }}}})"));
                }
            }
        }
        assert!(
            found.is_empty(),
            "literal contract values:\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn the_check_finds_a_literal_value() {
        let text =
            literal_text("port = 5432\nhost = {{ database_host }}\nuser postgres_exporter\n");
        assert_eq!(occurrences(&text, "5432").len(), 1);
        assert_eq!(occurrences(&text, contract::EXPORTER_ROLE).len(), 1);
        assert!(occurrences(&text, contract::DATABASE_SERVICE).is_empty());
        assert!(occurrences("a postgresql.conf", contract::CONFIG_FILE).len() == 1);
        assert!(occurrences("initdb-paperless.sh", contract::DATABASE).is_empty());
    }
}
