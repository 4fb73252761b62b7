//! Scheduled logical backups: a CronJob running the generated backup script
//! against the database, writing to a volume of its own.

use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, JobSpec, JobTemplateSpec, PodFailurePolicy,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels::BACKUP;
use super::offsite;
use super::pod::{self, POSTGRES_USER, Volumes};
use crate::contract::{self, BACKUP_SCRIPTS_CONFIG_MAP};
use crate::model::quantity::{Bytes, MilliCpu};
use crate::model::settings::{Amounts, Settings};

const SCRIPTS_DIR: &str = "/scripts";
/// February 31st: a schedule Kubernetes accepts that is never due.
const NEVER: &str = "0 0 31 2 *";

const REQUESTS: Amounts = Amounts {
    memory: Bytes::mebibytes(128),
    cpu: MilliCpu::millicores(100),
};
const LIMITS: Amounts = Amounts {
    memory: Bytes::mebibytes(512),
    cpu: MilliCpu::millicores(1000),
};

/// The volume dumps are written to, apart from the data volume so a lost
/// data volume does not take its backups with it.
pub fn claim(settings: &Settings) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: BACKUP.metadata(contract::BACKUP_CLAIM),
        spec: Some(pod::claim_spec(
            &settings.storage.class,
            settings.backup.size,
        )),
        ..Default::default()
    }
}

/// The dumps' volume, as the pod mounts it.
fn backups_volume() -> Volume {
    Volume {
        name: "backups".to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: contract::BACKUP_CLAIM.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn scripts_volume() -> Volume {
    pod::config_map_volume("scripts", BACKUP_SCRIPTS_CONFIG_MAP)
}

pub fn cron_job(settings: &Settings) -> CronJob {
    let mut volumes = Volumes::default();
    let dump_mounts = vec![
        volumes.mount(backups_volume(), contract::BACKUP_DIR),
        volumes.read_only(scripts_volume(), SCRIPTS_DIR),
        pod::credential_mount(&mut volumes, contract::APP_PASSWORD_KEY),
        volumes.mount(pod::empty_dir("tmp"), "/tmp"),
    ];
    let mut dump = Container {
        name: "dump".to_owned(),
        image: Some(settings.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec!["sh".to_owned(), format!("{SCRIPTS_DIR}/backup.sh")]),
        env: Some(vec![
            pod::env("PGHOST", contract::DATABASE_SERVICE),
            pod::env("PGPORT", contract::DATABASE_PORT.to_string()),
            pod::env("PGUSER", contract::APP_ROLE),
            pod::env("PGDATABASE", contract::DATABASE),
            pod::env("BACKUP_DIR", contract::BACKUP_DIR),
            pod::env("POSTGRES_CREDENTIALS_DIR", contract::CREDENTIALS_DIR),
            pod::env(
                "BACKUP_RETENTION_DAYS",
                settings.backup.retention_days.to_string(),
            ),
            pod::env(
                "BACKUP_LOCK_WAIT_TIMEOUT",
                contract::BACKUP_LOCK_WAIT_TIMEOUT,
            ),
        ]),
        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(dump_mounts),
        ..Default::default()
    };
    if settings.tls.enabled {
        pod::verify_server_certificate(&mut dump, &mut volumes, &settings.tls.secret);
    }
    let offsite = &settings.backup.offsite;
    // With an off-site copy the dump runs first, as an init container, and
    // the upload only once it succeeded.
    let (init_containers, containers) = if offsite.enabled() {
        (
            Some(vec![dump]),
            vec![offsite::upload_container(
                offsite,
                settings.backup.retention_days,
                SCRIPTS_DIR,
                vec![
                    volumes.read_only(backups_volume(), contract::BACKUP_DIR),
                    volumes.read_only(scripts_volume(), SCRIPTS_DIR),
                    volumes.mount(pod::empty_dir("tmp"), "/tmp"),
                ],
            )],
        )
    } else {
        (None, vec![dump])
    };
    let spec = CronJobSpec {
        schedule: settings.backup.schedule.clone(),
        time_zone: Some("Etc/UTC".to_owned()),
        concurrency_policy: Some("Forbid".to_owned()),
        starting_deadline_seconds: Some(3600),
        successful_jobs_history_limit: Some(3),
        failed_jobs_history_limit: Some(3),
        job_template: job_template(
            settings,
            init_containers,
            containers,
            volumes,
            offsite.enabled().then(offsite::failure_policy),
            Some(contract::BACKUP_DEADLINE_SECONDS),
        ),
        ..Default::default()
    };
    cron_job_object(BACKUP.app, spec)
}

/// The restore, as a CronJob that never runs by itself (suspended): a Job
/// made from it with `kubectl create job --from=cronjob/postgres-restore`
/// fetches the dump `DUMP` names (`latest` by default; with an off-site
/// copy, from the bucket) and restores it as the superuser.
pub fn restore_cron_job(settings: &Settings) -> CronJob {
    let mut volumes = Volumes::default();
    let mut restore = Container {
        name: "restore".to_owned(),
        image: Some(settings.image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        // The kubelet expands $(DUMP) from the container's environment.
        command: Some(vec![
            "sh".to_owned(),
            format!("{SCRIPTS_DIR}/{}", contract::RESTORE_SCRIPT),
            "$(DUMP)".to_owned(),
        ]),
        env: Some(vec![
            dump_env(),
            pod::env("PGHOST", contract::DATABASE_SERVICE),
            pod::env("PGPORT", contract::DATABASE_PORT.to_string()),
            pod::env("PGDATABASE", contract::DATABASE),
            pod::env("BACKUP_DIR", contract::BACKUP_DIR),
            pod::env("POSTGRES_CREDENTIALS_DIR", contract::CREDENTIALS_DIR),
        ]),
        resources: Some(pod::resources(&REQUESTS, &LIMITS)),
        security_context: Some(pod::container_security(POSTGRES_USER)),
        volume_mounts: Some(vec![
            volumes.read_only(backups_volume(), contract::BACKUP_DIR),
            volumes.read_only(scripts_volume(), SCRIPTS_DIR),
            pod::credential_mount(&mut volumes, contract::SUPERUSER_PASSWORD_KEY),
            volumes.mount(pod::empty_dir("tmp"), "/tmp"),
        ]),
        ..Default::default()
    };
    if settings.tls.enabled {
        pod::verify_server_certificate(&mut restore, &mut volumes, &settings.tls.secret);
    }
    let offsite = &settings.backup.offsite;
    // With an off-site copy the dump comes from the bucket first.
    let fetch = offsite.enabled().then(|| {
        let mut fetch = offsite::upload_container(
            offsite,
            settings.backup.retention_days,
            SCRIPTS_DIR,
            vec![
                volumes.mount(backups_volume(), contract::BACKUP_DIR),
                volumes.read_only(scripts_volume(), SCRIPTS_DIR),
                volumes.mount(pod::empty_dir("tmp"), "/tmp"),
            ],
        );
        fetch.name = "fetch".to_owned();
        fetch.command = Some(vec![
            "sh".to_owned(),
            format!("{SCRIPTS_DIR}/{}", offsite::FETCH_SCRIPT),
            "$(DUMP)".to_owned(),
        ]);
        fetch.env.get_or_insert_with(Vec::new).insert(0, dump_env());
        vec![fetch]
    });
    let spec = CronJobSpec {
        // Never due: Jobs are made from it by hand.
        schedule: NEVER.to_owned(),
        suspend: Some(true),
        time_zone: Some("Etc/UTC".to_owned()),
        concurrency_policy: Some("Forbid".to_owned()),
        job_template: // No deadline: a restore cut short rolls back and must start over.
        job_template(settings, fetch, vec![restore], volumes, None, None),
        ..Default::default()
    };
    cron_job_object(contract::RESTORE_JOB, spec)
}

/// Which dump a restore loads: `latest`, or a dump's file name.
fn dump_env() -> EnvVar {
    pod::env("DUMP", "latest")
}

fn job_template(
    settings: &Settings,
    init_containers: Option<Vec<Container>>,
    containers: Vec<Container>,
    volumes: Volumes,
    pod_failure_policy: Option<PodFailurePolicy>,
    active_deadline_seconds: Option<i64>,
) -> JobTemplateSpec {
    let mut pod_labels = BACKUP.labels();
    pod_labels.extend(
        settings
            .backup
            .offsite
            .pod_label()
            .map(|(key, value)| (key.to_owned(), value.to_owned())),
    );
    let pod_spec = PodSpec {
        service_account_name: Some(BACKUP.app.to_owned()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        restart_policy: Some("Never".to_owned()),
        security_context: Some(pod::pod_security(POSTGRES_USER)),
        init_containers,
        containers,
        volumes: Some(volumes.into_list()),
        ..pod::scheduled(&settings.scheduling)
    };
    JobTemplateSpec {
        metadata: None,
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds,
            pod_failure_policy,
            ttl_seconds_after_finished: Some(7 * 24 * 3600),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
    }
}

fn cron_job_object(name: &str, spec: CronJobSpec) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            annotations: Some(pod::checkov_skips(&[
                pod::SKIP_IMAGE_DIGEST,
                pod::SKIP_PULL_ALWAYS,
                pod::SKIP_POSTGRES_UID,
            ])),
            ..BACKUP.metadata(name)
        },
        spec: Some(spec),
        ..Default::default()
    }
}
