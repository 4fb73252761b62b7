//! Off-site backups with the real programs: Debian's PostgreSQL and rclone,
//! and moto's S3 server (PyPI `moto[server]`) on a loopback port, with
//! signature checking on (an IAM user whose keys the store verifies).
//!
//! The scripts are the generated ones, read from the rendered tree as the
//! profile's overlay sees them, and they run with the environment of the
//! upload container of `palgen build`'s CronJob: only the endpoint, the
//! access keys (a Secret in the cluster) and the paths outside the cluster
//! are replaced.

mod common;
mod pg;

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use common::{objects_by_identity, palgen, stderr, stdout, tool};
use pg::{
    APP_PASSWORD, Daemon, Generated, Sandbox, TempCluster, WAIT, debian_program, describe,
    free_port, wait_until,
};
use serde_json::Value;

/// An S3-compatible store on a laptop cluster: the dev platform with
/// backups on and MinIO's access keys from a Secret.
const PROFILE: &str = "dev-minio";
const PROFILE_YAML: &str = "extends: dev-small
backup:
  enabled: true
  retention_days: 5
  offsite:
    provider: s3
    bucket: paless-backups
    region: us-east-1
    endpoint: http://minio.minio.svc:9000
    credentials_secret: minio-backup-credentials
";
const BUCKET: &str = "paless-backups";
const IN_CLUSTER_ENDPOINT: &str = "http://minio.minio.svc:9000";

/// The rows of `docs`: count and md5 of all of them in order.
const CHECKSUM: &str = "SELECT count(*) || ' ' || md5(string_agg(id || ':' || uid || ':' || body, \
                        chr(30) ORDER BY id)) FROM docs";

/// Creates the bucket and an IAM user allowed to use it, then turns on
/// moto's authentication: from then on only that user's keys, correctly
/// signed, are accepted. Prints the user's key id and secret.
const SETUP: &str = r#"
import json, sys, urllib.request
import boto3
endpoint, bucket = sys.argv[1], sys.argv[2]
session = boto3.session.Session(
    aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1")
session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
iam = session.client("iam", endpoint_url=endpoint)
iam.create_user(UserName="backup")
iam.put_user_policy(UserName="backup", PolicyName="backups", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="backup")["AccessKey"]
urllib.request.urlopen(urllib.request.Request(
    endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
    headers={"Content-Type": "text/plain"})).read()
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;

/// The keys of the multipart uploads in progress in the bucket.
const IN_PROGRESS: &str = r#"
import sys
import boto3
endpoint, key_id, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key_id,
                  aws_secret_access_key=secret, region_name="us-east-1")
for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
    print(upload["Key"])
"#;

/// moto's S3 server on a free loopback port, stopped when dropped.
struct Store {
    endpoint: String,
    key_id: String,
    secret: String,
    _daemon: Daemon,
}

impl Store {
    fn uploads_in_progress(&self) -> Vec<String> {
        let output = Command::new(tool("python"))
            .args([
                "-c",
                IN_PROGRESS,
                &self.endpoint,
                &self.key_id,
                &self.secret,
                BUCKET,
            ])
            .env_clear()
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "list uploads: {}",
            describe(&output)
        );
        stdout(&output).lines().map(str::to_owned).collect()
    }

    fn start(sandbox: &Sandbox) -> Store {
        let port = free_port();
        let mut daemon = Daemon::spawn(
            sandbox,
            "moto_server",
            Command::new(tool("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_clear()
                .env("PATH", "/usr/bin:/bin"),
        );
        daemon.wait_until_ready(|| {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .map(drop)
                .map_err(|e| e.to_string())
        });
        let endpoint = format!("http://127.0.0.1:{port}");
        let output = Command::new(tool("python"))
            .args(["-c", SETUP, &endpoint, BUCKET])
            .env_clear()
            .output()
            .expect("python runs");
        assert!(
            output.status.success(),
            "setting up the store failed: {}\n--- moto log\n{}",
            describe(&output),
            daemon.log()
        );
        let keys = stdout(&output);
        let (key_id, secret) = keys.trim().split_once(' ').expect("key id and secret");
        Store {
            endpoint,
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            _daemon: daemon,
        }
    }
}

/// The rendered tree and built objects of a user profile.
struct Rendered {
    generated: Generated,
    objects: BTreeMap<String, Value>,
}

fn render(name: &str, yaml: &str) -> Rendered {
    let generated = Generated::render_profiles(&[(name, yaml)], &[name]);
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::write(dir.path().join(format!("{name}.yaml")), yaml).expect("write profile");
    let output = palgen(&[
        "--profiles-dir",
        dir.path().to_str().unwrap(),
        "build",
        "--profile",
        name,
    ]);
    assert!(output.status.success(), "palgen build: {}", stderr(&output));
    Rendered {
        generated,
        objects: objects_by_identity(&stdout(&output)),
    }
}

fn built_in(name: &str) -> Rendered {
    let output = palgen(&["build", "--profile", name]);
    assert!(output.status.success(), "palgen build: {}", stderr(&output));
    Rendered {
        generated: Generated::render(),
        objects: objects_by_identity(&stdout(&output)),
    }
}

impl Rendered {
    fn pod_spec(&self) -> &Value {
        &self.objects["CronJob/paless/postgres-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    }

    fn container(&self, list: &str, name: &str) -> &Value {
        self.pod_spec()[list]
            .as_array()
            .unwrap_or_else(|| panic!("the backup pod has no {list}"))
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("the backup pod has no {list} entry {name}"))
    }

    /// The upload container's environment with the endpoint and the
    /// Secret's access keys of the local store, and the backup directory of
    /// the test: every other variable as the CronJob sets it.
    fn upload_env(&self, store: &Store, backup_dir: &Path) -> Vec<(String, String)> {
        rclone_env(self.container("containers", "upload"), store, backup_dir)
    }

    fn script(&self, profile: &str, name: &str) -> String {
        self.generated.file(profile, name)
    }

    /// Writes the off-site scripts into a directory of the sandbox, as the
    /// ConfigMap mounts them; their paths.
    fn install(&self, sandbox: &Sandbox, dir: &str) -> Scripts {
        sandbox.dir(dir);
        let write =
            |name: &str| sandbox.write(&format!("{dir}/{name}"), &self.script(PROFILE, name));
        Scripts {
            upload: write("offsite-upload.sh"),
            fetch: write("offsite-fetch.sh"),
        }
    }

    fn location(&self) -> String {
        self.container("containers", "upload")["env"]
            .as_array()
            .expect("upload env")
            .iter()
            .find(|var| var["name"] == "OFFSITE_LOCATION")
            .and_then(|var| var["value"].as_str())
            .expect("the upload container sets OFFSITE_LOCATION")
            .to_owned()
    }
}

/// An rclone container's environment with the endpoint and the Secret's
/// access keys of the local store, and the backup directory of the test:
/// every other variable as the container sets it.
fn rclone_env(container: &Value, store: &Store, backup_dir: &Path) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for var in container["env"].as_array().expect("rclone container env") {
        let name = var["name"].as_str().expect("env name").to_owned();
        let value = if let Some(secret) = var["valueFrom"]["secretKeyRef"].as_object() {
            assert_eq!(secret["name"], "minio-backup-credentials", "{var}");
            match secret["key"].as_str() {
                Some("access-key-id") => store.key_id.clone(),
                Some("secret-access-key") => store.secret.clone(),
                other => panic!("unexpected Secret key {other:?}"),
            }
        } else {
            let value = var["value"].as_str().expect("literal value").to_owned();
            match name.as_str() {
                "RCLONE_CONFIG_OFFSITE_ENDPOINT" => {
                    assert_eq!(value, IN_CLUSTER_ENDPOINT);
                    store.endpoint.clone()
                }
                "BACKUP_DIR" => backup_dir.to_string_lossy().into_owned(),
                _ => value,
            }
        };
        env.push((name, value));
    }
    for replaced in [
        "RCLONE_CONFIG_OFFSITE_ENDPOINT",
        "RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID",
        "RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY",
    ] {
        assert!(
            env.iter().any(|(name, _)| name == replaced),
            "the upload container sets no {replaced}: {env:?}"
        );
    }
    env
}

struct Scripts {
    upload: PathBuf,
    fetch: PathBuf,
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// rclone as the test runs it, with the job's remote configuration.
fn rclone(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(debian_program("rclone", "rclone"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("rclone runs")
}

/// The object names directly under the location, sorted.
fn bucket_listing(env: &[(String, String)], location: &str) -> Vec<String> {
    let output = rclone(env, &["lsf", "--files-only", "-R", location]);
    assert!(output.status.success(), "rclone lsf: {}", describe(&output));
    let mut names: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    names.sort();
    names
}

fn as_app(cluster: &TempCluster, sql: &str) -> String {
    cluster
        .psql_tcp("paperless", APP_PASSWORD, "paperless", sql)
        .unwrap_or_else(|error| panic!("{error}\n--- server log\n{}", cluster.log()))
}

/// A local file with the given age, uploaded to `location/name` by rclone
/// (which keeps the age as the object's modification time).
fn seed_object(env: &[(String, String)], dir: &Path, location: &str, name: &str, age_days: u64) {
    let path = dir.join(name.replace('/', "_"));
    fs::write(&path, "PGDMP an old dump").expect("write seed");
    let mtime = SystemTime::now() - Duration::from_secs(age_days * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_modified(mtime))
        .expect("set mtime");
    let target = format!("{location}/{name}");
    let output = rclone(env, &["copyto", path.to_str().unwrap(), &target]);
    assert!(
        output.status.success(),
        "seed {name}: {}",
        describe(&output)
    );
    fs::remove_file(&path).expect("remove seed");
}

#[test]
fn a_dump_goes_to_the_bucket_and_comes_back_into_a_fresh_server() {
    let sandbox = Sandbox::new();
    let store = Store::start(&sandbox);
    let rendered = render(PROFILE, PROFILE_YAML);
    let location = rendered.location();
    assert_eq!(location, format!("offsite:{BUCKET}/{PROFILE}"));

    let server = rendered.generated.server(PROFILE);
    let source = TempCluster::paperless(&rendered.generated, &server);
    as_app(
        &source,
        "CREATE TABLE docs (id integer PRIMARY KEY, uid uuid NOT NULL DEFAULT uuid_generate_v4(), \
         body text NOT NULL); \
         INSERT INTO docs (id, body) SELECT i, format(E'doc %s: it''s \"quoted\"\\n ünïcödé %s', \
         i, md5(i::text)) FROM generate_series(1, 2000) AS i",
    );
    let original = as_app(&source, CHECKSUM);
    assert!(original.starts_with("2000 "), "{original}");

    // What the bucket held before: one dump past the retention, one within
    // it, and objects that are not ours (another name, a deeper path).
    let backups = source.sandbox().dir("backups");
    let upload_env = rendered.upload_env(&store, &backups);
    let remote_env = upload_env.clone();
    let scripts = rendered.install(source.sandbox(), "scripts");
    // The profile's retention, as the CronJob passes it.
    let retention: u64 = upload_env
        .iter()
        .find(|(name, _)| name == "BACKUP_RETENTION_DAYS")
        .and_then(|(_, days)| days.parse().ok())
        .expect("the upload container sets BACKUP_RETENTION_DAYS");
    assert!(retention >= 2, "retention {retention} days");
    let seeds = source.sandbox().dir("seeds");
    let expired = "paperless-20000101T000000Z.dump";
    let kept = "paperless-20000102T000000Z.dump";
    let foreign = [
        "notes-20000101T000000Z.dump",
        "older/paperless-20000101T000000Z.dump",
    ];
    seed_object(&remote_env, &seeds, &location, expired, retention + 3);
    seed_object(&remote_env, &seeds, &location, kept, retention - 1);
    for name in foreign {
        seed_object(&remote_env, &seeds, &location, name, retention + 30);
    }

    // The CronJob's first step: backup.sh with the dump container's env.
    let dump = rendered.container("initContainers", "dump");
    let dump_env = pg::container_env(dump);
    let mut env = source.client_env();
    env.extend([
        ("PGUSER", dump_env["PGUSER"].clone()),
        ("PGDATABASE", dump_env["PGDATABASE"].clone()),
        (
            "BACKUP_RETENTION_DAYS",
            dump_env["BACKUP_RETENTION_DAYS"].clone(),
        ),
        (
            "BACKUP_LOCK_WAIT_TIMEOUT",
            dump_env["BACKUP_LOCK_WAIT_TIMEOUT"].clone(),
        ),
        ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let backup = source.sandbox().run_script(
        "backup.sh",
        &rendered.script(PROFILE, "backup.sh"),
        &[],
        &env,
    );
    assert!(backup.status.success(), "backup.sh: {}", describe(&backup));
    let local = pg::file_names(&backups);
    assert_eq!(local.len(), 1, "one dump on the volume: {local:?}");
    let dump_name = local[0].clone();

    // Its second step: the upload.
    let upload = source
        .sandbox()
        .sh(&scripts.upload, &[], &pairs(&upload_env));
    assert!(
        upload.status.success(),
        "offsite-upload.sh: {}",
        describe(&upload)
    );
    assert!(
        stdout(&upload).contains(&format!("uploaded {dump_name}")),
        "{}",
        describe(&upload)
    );
    let mut expected = vec![
        dump_name.clone(),
        foreign[0].to_owned(),
        foreign[1].to_owned(),
        kept.to_owned(),
    ];
    expected.sort();
    assert_eq!(
        bucket_listing(&remote_env, &location),
        expected,
        "the bucket after the upload: the new dump, the dump within the retention and the \
         objects that are not ours; not the expired dump nor a .partial"
    );

    // A second run uploads nothing again.
    let again = source
        .sandbox()
        .sh(&scripts.upload, &[], &pairs(&upload_env));
    assert!(
        again.status.success(),
        "second upload: {}",
        describe(&again)
    );
    assert!(!stdout(&again).contains("uploaded"), "{}", describe(&again));

    // The volume is lost; a fresh server restores from the bucket alone.
    drop(source);
    let target = TempCluster::paperless(&rendered.generated, &server);
    let restore_dir = target.sandbox().dir("backups");
    let fetch_env = rendered.upload_env(&store, &restore_dir);
    let scripts = rendered.install(target.sandbox(), "scripts");
    let fetched = target
        .sandbox()
        .sh(&scripts.fetch, &["latest"], &pairs(&fetch_env));
    assert!(
        fetched.status.success(),
        "offsite-fetch.sh latest: {}",
        describe(&fetched)
    );
    let fetched_path = PathBuf::from(stdout(&fetched).trim());
    assert_eq!(
        fetched_path,
        restore_dir.join(&dump_name),
        "the newest dump"
    );
    assert_eq!(pg::file_names(&restore_dir), vec![dump_name.clone()]);

    let mut env = target.client_env();
    env.extend([
        ("PGDATABASE", "paperless".to_owned()),
        ("BACKUP_DIR", restore_dir.to_string_lossy().into_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let restored = target.sandbox().run_script(
        "restore.sh",
        &rendered.script(PROFILE, "restore.sh"),
        &["latest"],
        &env,
    );
    assert!(
        restored.status.success(),
        "restore.sh latest: {}\n{}",
        describe(&restored),
        target.log()
    );
    assert_eq!(as_app(&target, CHECKSUM), original, "restored rows differ");

    // A name the bucket does not hold fails.
    let missing = target.sandbox().sh(
        &scripts.fetch,
        &["paperless-20990101T000000Z.dump"],
        &pairs(&fetch_env),
    );
    assert!(
        !missing.status.success(),
        "fetch of a missing dump: {}",
        describe(&missing)
    );
}

/// A user profile's own retention and bucket settings live in the CronJob,
/// so its overlay patches that object, and kustomize builds what palgen
/// builds.
#[test]
fn a_user_profile_overlay_builds_with_kustomize() {
    let rendered = render(PROFILE, PROFILE_YAML);
    let overlay = rendered.generated.tree().join("overlays").join(PROFILE);
    let built = Command::new(tool("kubectl"))
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .expect("kubectl runs");
    assert!(
        built.status.success(),
        "kubectl kustomize: {}",
        describe(&built)
    );
    assert_eq!(objects_by_identity(&stdout(&built)), rendered.objects);
}

#[test]
fn wrong_credentials_fail_the_upload_and_upload_nothing() {
    let sandbox = Sandbox::new();
    let store = Store::start(&sandbox);
    let rendered = render(PROFILE, PROFILE_YAML);
    let backups = sandbox.dir("backups");
    sandbox.write("backups/paperless-20990101T000000Z.dump", "PGDMP a dump");
    let good_env = rendered.upload_env(&store, &backups);
    let scripts = rendered.install(&sandbox, "scripts");

    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        good_env
            .iter()
            .map(|(k, v)| {
                let v = if k == name {
                    value.to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    for (what, env, reply) in [
        (
            "a wrong secret key",
            with("RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY", "wrong-secret"),
            "SignatureDoesNotMatch",
        ),
        (
            "an unknown key id",
            with(
                "RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID",
                "AKIAUNKNOWN000000000",
            ),
            "InvalidAccessKeyId",
        ),
    ] {
        let upload = sandbox.sh(&scripts.upload, &[], &pairs(&env));
        assert!(
            !upload.status.success(),
            "the upload with {what} exited 0: {}",
            describe(&upload)
        );
        assert!(
            stderr(&upload).contains(reply),
            "the store's refusal ({reply}) is in the job's log: {}",
            describe(&upload)
        );
    }
    assert_eq!(
        bucket_listing(&good_env, &rendered.location()),
        Vec::<String>::new(),
        "nothing was uploaded"
    );

    // The container runs the script itself, so its status is the
    // container's, and a failed pod is not restarted in place.
    let upload = rendered.container("containers", "upload");
    assert_eq!(
        upload["command"],
        serde_json::json!(["sh", "/scripts/offsite-upload.sh"])
    );
    assert_eq!(rendered.pod_spec()["restartPolicy"], "Never");
}

/// The process group of `leader`: pids whose stat names it as their group.
fn group_runs(leader: u32, program: &str) -> bool {
    fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .any(|entry| {
            let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let cmdline = fs::read_to_string(entry.path().join("cmdline")).unwrap_or_default();
            // Fields after the command's closing parenthesis: state ppid pgrp.
            let pgrp = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(2))
                .and_then(|field| field.parse::<u32>().ok());
            pgrp == Some(leader) && cmdline.split('\0').any(|arg| arg == program)
        })
}

#[test]
fn a_killed_upload_leaves_no_object_under_the_final_name() {
    let sandbox = Sandbox::new();
    let store = Store::start(&sandbox);
    let rendered = render(PROFILE, PROFILE_YAML);
    let backups = sandbox.dir("backups");
    let name = "paperless-20990101T000000Z.dump";
    // 12 MiB of incompressible bytes at 1 MiB/s in 5 MiB parts: a
    // 12-second multipart upload, whose object name S3 lists while it runs.
    let mut bytes = Vec::with_capacity(12 << 20);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < 12 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    fs::write(backups.join(name), &bytes).expect("write a big dump");
    let mut env = rendered.upload_env(&store, &backups);
    let remote_env = env.clone();
    let location = rendered.location();
    let scripts = rendered.install(&sandbox, "scripts");
    let script = scripts.upload.clone();

    let mut throttled = env.clone();
    throttled.extend(
        [
            ("RCLONE_BWLIMIT", "1M"),
            ("RCLONE_CONFIG_OFFSITE_UPLOAD_CUTOFF", "0"),
            ("RCLONE_CONFIG_OFFSITE_CHUNK_SIZE", "5M"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut command = sandbox.command("sh");
    command
        .arg(&script)
        .envs(throttled.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    let mut upload = Daemon::spawn(&sandbox, "upload", &mut command);
    let leader = upload.pid();
    let in_flight = wait_until(WAIT, || {
        let uploads = store.uploads_in_progress();
        if group_runs(leader, "copyto") && !uploads.is_empty() {
            Ok(uploads)
        } else {
            Err("no multipart upload in progress".to_owned())
        }
    })
    .unwrap_or_else(|why| panic!("{why}\n--- upload log\n{}", upload.log()));
    assert_eq!(
        in_flight,
        vec![format!("{PROFILE}/{name}.partial")],
        "the dump is uploaded under a temporary name"
    );
    let started = Instant::now();
    sleep(Duration::from_secs(2));
    assert!(
        upload.is_running(),
        "the upload ended before it was killed: {}",
        upload.log()
    );
    // What a deleted pod or an evicted node does: every process at once.
    let kill = Command::new("kill")
        .args(["-KILL", "--", &format!("-{leader}")])
        .output()
        .expect("kill runs");
    assert!(kill.status.success(), "kill: {}", describe(&kill));
    let status = upload.wait_for_exit();
    assert!(!status.success(), "killed upload: {status}");
    eprintln!("killed {:?} into the upload", started.elapsed());

    let listed = bucket_listing(&remote_env, &location);
    assert!(
        !listed.iter().any(|object| object == name),
        "a killed upload left an object under the final name: {listed:?}"
    );

    // The next run uploads the dump whole.
    let rerun = sandbox.sh(&script, &[], &pairs(&env));
    assert!(
        rerun.status.success(),
        "upload after the kill: {}",
        describe(&rerun)
    );
    assert_eq!(
        bucket_listing(&remote_env, &location),
        vec![name.to_owned()]
    );
    let restore_dir = sandbox.dir("restore");
    env.retain(|(k, _)| k != "BACKUP_DIR");
    env.push((
        "BACKUP_DIR".to_owned(),
        restore_dir.to_string_lossy().into_owned(),
    ));
    let fetched = sandbox.sh(&scripts.fetch, &[name], &pairs(&env));
    assert!(fetched.status.success(), "fetch: {}", describe(&fetched));
    assert_eq!(
        fs::read(restore_dir.join(name)).expect("fetched dump"),
        bytes,
        "the uploaded dump is the whole file"
    );
}

#[test]
fn a_built_in_profile_without_its_identity_fails_the_job_at_once() {
    let rendered = built_in("aws-small");
    let sandbox = Sandbox::new();
    let backups = sandbox.dir("backups");
    sandbox.write("backups/paperless-20990101T000000Z.dump", "PGDMP a dump");
    let upload = rendered.container("containers", "upload");
    let env: Vec<(String, String)> = pg::container_env(upload)
        .into_iter()
        .map(|(k, v)| {
            let v = if k == "BACKUP_DIR" {
                backups.to_string_lossy().into_owned()
            } else {
                v
            };
            (k, v)
        })
        .collect();
    let output = sandbox.run_script(
        "offsite-upload.sh",
        &rendered.script("aws-small", "offsite-upload.sh"),
        &[],
        &pairs(&env),
    );
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    assert!(
        stderr(&output).contains("backup.offsite.role_arn is not set"),
        "{}",
        describe(&output)
    );
    let policy = &rendered.objects["CronJob/paless/postgres-backup"]["spec"]["jobTemplate"]["spec"]
        ["podFailurePolicy"]["rules"][0];
    assert_eq!(policy["action"], "FailJob");
    assert_eq!(policy["onExitCodes"]["containerName"], "upload");
    assert_eq!(policy["onExitCodes"]["values"], serde_json::json!([64]));
}

/// The README's jq filter that sets `DUMP` in every container of a restore
/// Job (the same text in each of its commands).
fn readme_dump_filter() -> String {
    let readme =
        fs::read_to_string(common::repo_root().join("README.md")).expect("README.md is readable");
    let filters: std::collections::BTreeSet<&str> = readme
        .split("jq --arg dump \"$DUMP\" '")
        .skip(1)
        .map(|rest| rest.split('\'').next().expect("a quoted filter"))
        .collect();
    assert_eq!(filters.len(), 1, "one jq filter in README.md: {filters:?}");
    filters.into_iter().next().unwrap().to_owned()
}

/// What `kubectl create job NAME --from=cronjob/postgres-restore` makes:
/// a Job with the CronJob's job template; with `dump`, piped through the
/// README's `jq --arg dump "$DUMP" '...'` as the README does.
fn restore_job(rendered: &Rendered, dump: Option<&str>) -> Value {
    let cron_job = &rendered.objects["CronJob/paless/postgres-restore"];
    assert_eq!(cron_job["spec"]["suspend"], true, "{cron_job}");
    let job = serde_json::json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "restore-1", "namespace": "paless"},
        "spec": cron_job["spec"]["jobTemplate"]["spec"],
    });
    let Some(dump) = dump else {
        return job;
    };
    let mut jq = Command::new(tool("jq"))
        .args(["--arg", "dump", dump, &readme_dump_filter()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jq runs");
    std::io::Write::write_all(
        jq.stdin.as_mut().expect("jq's stdin"),
        job.to_string().as_bytes(),
    )
    .expect("write to jq");
    let output = jq.wait_with_output().expect("jq finishes");
    assert!(output.status.success(), "jq: {}", describe(&output));
    serde_json::from_slice(&output.stdout).expect("jq prints JSON")
}

/// Runs a restore Job's containers as the kubelet does, init containers
/// first, each until it exits, stopping at the first failure: the command
/// with `$(VAR)` expanded from the container's environment, the scripts
/// from `scripts`, the database reached as the CronJob's `PGHOST` on
/// loopback. Returns every container's name and output.
fn run_restore_job(
    job: &Value,
    store: &Store,
    target: &TempCluster,
    scripts: &Path,
    backups: &Path,
) -> Vec<(String, Output)> {
    let pod = &job["spec"]["template"]["spec"];
    let containers = pod["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(pod["containers"].as_array().expect("containers"));
    let mut ran = Vec::new();
    for container in containers {
        let name = container["name"].as_str().expect("a name").to_owned();
        let env: Vec<(String, String)> = if name == "fetch" {
            rclone_env(container, store, backups)
        } else {
            let own = pg::container_env(container);
            let mut env: Vec<(String, String)> = target
                .client_env()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            for (key, value) in own {
                // The cluster's addresses and paths are the test's.
                if ![
                    "PGHOST",
                    "PGPORT",
                    "POSTGRES_CREDENTIALS_DIR",
                    "PGSSLROOTCERT",
                ]
                .contains(&key.as_str())
                {
                    env.push((key, value));
                }
            }
            env.push((
                "BACKUP_DIR".to_owned(),
                backups.to_string_lossy().into_owned(),
            ));
            env
        };
        let command: Vec<String> = container["command"]
            .as_array()
            .expect("a command")
            .iter()
            .map(|arg| {
                let mut arg = arg.as_str().expect("a string").to_owned();
                for (key, value) in &env {
                    arg = arg.replace(&format!("$({key})"), value);
                }
                arg.replace("/scripts/", &format!("{}/", scripts.display()))
            })
            .collect();
        assert_eq!(command[0], "sh", "{command:?}");
        let script = PathBuf::from(&command[1]);
        let args: Vec<&str> = command[2..].iter().map(String::as_str).collect();
        let output = target.sandbox().sh(&script, &args, &pairs(&env));
        let failed = !output.status.success();
        ran.push((name, output));
        if failed {
            break;
        }
    }
    ran
}

/// The README's restore: dump and upload as the backup CronJob does, lose
/// the server and its volume, then `kubectl create job --from=cronjob/
/// postgres-restore` (newest dump), and the `list` and named-dump variants
/// through the README's jq filter, run as the Job's containers.
#[test]
fn the_documented_restore_job_brings_a_dump_back_from_the_bucket() {
    let sandbox = Sandbox::new();
    let store = Store::start(&sandbox);
    let rendered = render(PROFILE, PROFILE_YAML);
    let server = rendered.generated.server(PROFILE);
    let source = TempCluster::paperless(&rendered.generated, &server);
    as_app(
        &source,
        "CREATE TABLE docs (id integer PRIMARY KEY, uid uuid NOT NULL DEFAULT uuid_generate_v4(), \
         body text NOT NULL); \
         INSERT INTO docs (id, body) SELECT i, md5(i::text) FROM generate_series(1, 500) AS i",
    );
    let original = as_app(&source, CHECKSUM);

    let backups = source.sandbox().dir("backups");
    let upload_env = rendered.upload_env(&store, &backups);
    let scripts = rendered.install(source.sandbox(), "scripts");
    let dump_env = pg::container_env(rendered.container("initContainers", "dump"));
    let mut env = source.client_env();
    env.extend([
        ("PGUSER", dump_env["PGUSER"].clone()),
        ("PGDATABASE", dump_env["PGDATABASE"].clone()),
        (
            "BACKUP_RETENTION_DAYS",
            dump_env["BACKUP_RETENTION_DAYS"].clone(),
        ),
        (
            "BACKUP_LOCK_WAIT_TIMEOUT",
            dump_env["BACKUP_LOCK_WAIT_TIMEOUT"].clone(),
        ),
        ("BACKUP_DIR", backups.to_string_lossy().into_owned()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let backup = source.sandbox().run_script(
        "backup.sh",
        &rendered.script(PROFILE, "backup.sh"),
        &[],
        &env,
    );
    assert!(backup.status.success(), "backup.sh: {}", describe(&backup));
    let upload = source
        .sandbox()
        .sh(&scripts.upload, &[], &pairs(&upload_env));
    assert!(upload.status.success(), "upload: {}", describe(&upload));
    let dump_name = pg::file_names(&backups).remove(0);

    // Wiped: the server and both volumes are gone; a fresh deployment.
    drop(source);
    let target = TempCluster::paperless(&rendered.generated, &server);
    let restore_backups = target.sandbox().dir("backups");
    let scripts = rendered.install(target.sandbox(), "scripts");
    target.sandbox().write(
        "scripts/restore.sh",
        &rendered.script(PROFILE, "restore.sh"),
    );
    let scripts_dir = scripts.fetch.parent().expect("the scripts' directory");

    let list = run_restore_job(
        &restore_job(&rendered, Some("list")),
        &store,
        &target,
        scripts_dir,
        &restore_backups,
    );
    for (name, output) in &list {
        assert!(output.status.success(), "{name}: {}", describe(output));
    }
    let names: Vec<&str> = list.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["fetch", "restore"], "the list Job's containers");
    assert!(
        stdout(&list[0].1).contains(&dump_name),
        "the bucket's listing names {dump_name}: {}",
        describe(&list[0].1)
    );
    assert_eq!(
        as_app(
            &target,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'docs'"
        ),
        "0"
    );

    for dump in [None, Some(dump_name.as_str())] {
        as_app(&target, "DROP TABLE IF EXISTS docs");
        for file in pg::file_names(&restore_backups) {
            fs::remove_file(restore_backups.join(file)).expect("empty the volume");
        }
        let ran = run_restore_job(
            &restore_job(&rendered, dump),
            &store,
            &target,
            scripts_dir,
            &restore_backups,
        );
        for (name, output) in &ran {
            assert!(
                output.status.success(),
                "DUMP={dump:?}: {name}: {}\n{}",
                describe(output),
                target.log()
            );
        }
        assert_eq!(ran.len(), 2, "fetch and restore ran");
        assert_eq!(
            as_app(&target, CHECKSUM),
            original,
            "DUMP={dump:?}: restored rows differ"
        );
    }
}
